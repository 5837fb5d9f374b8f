"""SavedModel export of a trained policy, in tf-agents' PolicySaver format.

`ImpalaPolicy` wraps an `ImpalaNetwork` as a tf-agents `TFPolicy`:
  observation  the env's observation, [B, *OBS];
  policy state {'core_state': LSTM (h, c) or (), 'prev_action': [B, *ACT]},
               reset to zeros wherever `time_step.step_type` is FIRST;
               with observations normalised or actions masked per task,
               also 'task': int32 [B], each environment's task (set it
               after `get_initial_state`; it is kept across episode starts);
  action       greedy (the mode) or sampled;
  info         {'policy_params': [B, P]}, the logits (or Gaussian parameters).
The previous reward the LSTM core sees is `time_step.reward`, the reward
received on arriving at the observation, as in training.

`PolicySaver` writes the SavedModel with `action`, `get_initial_state`,
`get_train_step` and its spec file (no `distribution`: see below), so it
loads with plain
`tf.saved_model.load` in a process that has never imported impala_tf, and
with `tf_agents.policies.py_tf_eager_policy.SavedModelPyTFEagerPolicy`.
Next to it, `impala_preprocessing.json` records the environment settings
training used, so evaluation reproduces the observations.
"""

import dataclasses
import json
import os

import tensorflow as tf
from tf_agents.policies import policy_saver
from tf_agents.policies import tf_policy
from tf_agents.specs import tensor_spec
from tf_agents.trajectories import policy_step
from tf_agents.trajectories import time_step as ts

from impala_tf import checkpoints
from impala_tf import networks
from impala_tf import run_files

PREPROCESSING_FILE = 'impala_preprocessing.json'
# Config fields that decide what the policy observes and how it acts.
PREPROCESSING_FIELDS = ('env_id', 'action_repeat', 'frame_stack', 'noop_max',
                        'sticky_action_probability', 'max_episode_frames',
                        'max_episode_steps', 'reward_clipping', 'full_action_space', 'tasks',
                        'task_reward_scales', 'hidden_observation_components',
                        'observation_key', 'observation_dtype', 'task_action_masks')


def _action_spec(action_space):
  if hasattr(action_space, 'n'):
    return tensor_spec.BoundedTensorSpec((), tf.int32, 0, int(action_space.n) - 1, name='action')
  return tensor_spec.BoundedTensorSpec(action_space.shape, tf.float32, action_space.low,
                                       action_space.high, name='action')


class ImpalaPolicy(tf_policy.TFPolicy):
  """An ImpalaNetwork as a tf-agents policy (greedy or sampling)."""

  def __init__(self, network: networks.ImpalaNetwork, env_spec, greedy: bool):
    self._network = network
    self._dist = env_spec.distribution
    self._greedy = greedy
    observation_spec = tf.TensorSpec(env_spec.observation_shape,
                                     tf.as_dtype(env_spec.observation_dtype), 'observation')
    action_spec = _action_spec(env_spec.action_space)
    core = tf.nest.map_structure(lambda s: tf.TensorSpec(s.shape[1:], s.dtype),
                                 network.initial_state(1))
    state_spec = {'core_state': core,
                  'prev_action': tf.TensorSpec(action_spec.shape, action_spec.dtype)}
    if network.needs_task:
      state_spec['task'] = tf.TensorSpec([], tf.int32)
    info_spec = {'policy_params': tf.TensorSpec([self._dist.num_params], tf.float32)}
    super().__init__(ts.time_step_spec(observation_spec), action_spec,
                     policy_state_spec=state_spec, info_spec=info_spec,
                     # The network's outputs are the policy; do not clip
                     # Gaussian samples silently.
                     clip=False)

  def _policy_params(self, time_step, policy_state):
    inputs = networks.NetworkInput(
        observation=time_step.observation,
        first=time_step.is_first(),
        prev_action=policy_state['prev_action'],
        prev_reward=tf.cast(time_step.reward, tf.float32))
    task = [policy_state['task']] if 'task' in policy_state else []
    outputs, core_state = self._network.step(inputs, policy_state['core_state'], *task)
    return outputs.policy_params, core_state

  def _maybe_reset_state(self, time_step, policy_state):
    # The task an environment runs outlives its episodes.
    reset = super()._maybe_reset_state(time_step, policy_state)
    if 'task' in policy_state:
      reset = dict(reset, task=policy_state['task'])
    return reset

  def _action(self, time_step, policy_state, seed=None):
    params, core_state = self._policy_params(time_step, policy_state)
    if self._greedy:
      action = self._dist.mode(params)
    else:
      seed = tf.random.uniform([2], maxval=2**31 - 1, dtype=tf.int64, seed=seed)
      action = self._dist.sample(params, seed)
    action = tf.cast(action, self.action_spec.dtype)
    state = {'core_state': core_state, 'prev_action': action}
    if 'task' in policy_state:
      state['task'] = policy_state['task']
    return policy_step.PolicyStep(action, state, {'policy_params': params})

  def _distribution(self, time_step, policy_state):
    # Deliberately absent from the export: a saved `distribution` returns
    # TensorFlow Probability objects, and loading those needs tfp imported,
    # which would break plain `tf.saved_model.load`. The logits are in the
    # `info` of every `action` call instead.
    raise NotImplementedError('ImpalaPolicy exports action(); logits are in info.')


def export_policy(network, env_spec, config, out_dir: str, step: int = 0):
  """Writes `out_dir/greedy` and `out_dir/sampling` SavedModels atomically.

  Each is written to a temporary directory and then moved into place; on a
  local filesystem by renames, so a reader never sees half an export (see
  `_replace_directory` for gs://).
  """
  tf.io.gfile.makedirs(out_dir)
  train_step = tf.Variable(step, dtype=tf.int64, name='train_step')
  preprocessing = {f: getattr(config, f) for f in PREPROCESSING_FIELDS}
  preprocessing = {k: list(v) if isinstance(v, tuple) else v for k, v in preprocessing.items()}
  preprocessing['torso'] = config.torso
  preprocessing['use_lstm'] = config.use_lstm
  for name, greedy in (('greedy', True), ('sampling', False)):
    policy = ImpalaPolicy(network, env_spec, greedy=greedy)
    final = os.path.join(out_dir, name)
    # Not '<final>.tmp': ram:// treats paths as string prefixes, so removing
    # '<final>' would take a '<final>.tmp' with it.
    tmp = os.path.join(out_dir, f'.{name}.tmp.{os.getpid()}')
    if tf.io.gfile.exists(tmp):
      tf.io.gfile.rmtree(tmp)
    policy_saver.PolicySaver(policy, batch_size=None, train_step=train_step).save(tmp)
    with tf.io.gfile.GFile(os.path.join(tmp, PREPROCESSING_FILE), 'w') as f:
      f.write(json.dumps(dict(preprocessing, greedy=greedy, train_step=step), indent=2))
    _replace_directory(tmp, final)
  return out_dir


def _replace_directory(new: str, final: str):
  """Moves directory `new` to `final`, replacing what was there.

  Locally by two renames, so a reader sees the old export or the new one.
  Other filesystems have no directory rename to rely on (GCS renames object
  by object, TensorFlow's ram:// not at all): there the old export is
  removed and the new one copied in, file by file, so for those moments a
  reader can find it missing or partial.
  """
  if not run_files.is_remote(final):
    old = os.path.join(os.path.dirname(final), f'.{os.path.basename(final)}.old.{os.getpid()}')
    if tf.io.gfile.exists(final):
      tf.io.gfile.rename(final, old)
    tf.io.gfile.rename(new, final)
    if tf.io.gfile.exists(old):
      tf.io.gfile.rmtree(old)
    return
  if tf.io.gfile.exists(final):
    tf.io.gfile.rmtree(final)
  for directory, _, files in tf.io.gfile.walk(new):
    target = final + directory[len(new):]
    tf.io.gfile.makedirs(target)
    for name in files:
      tf.io.gfile.copy(os.path.join(directory, name), os.path.join(target, name))
  tf.io.gfile.rmtree(new)


class SavedModelError(ValueError):
  """A SavedModel directory that is missing, incomplete or not an export."""


def read_preprocessing(saved_model_dir: str) -> dict:
  """The environment settings recorded with an export; clear errors if absent."""
  if not tf.io.gfile.isdir(saved_model_dir):
    raise SavedModelError(f'--saved_model {saved_model_dir!r} is not a directory.')
  if not tf.io.gfile.exists(os.path.join(saved_model_dir, 'saved_model.pb')):
    hint = ''
    if tf.io.gfile.isdir(os.path.join(saved_model_dir, 'greedy')):
      hint = f' (did you mean {os.path.join(saved_model_dir, "greedy")}?)'
    raise SavedModelError(f'{saved_model_dir!r} holds no saved_model.pb{hint}.')
  path = os.path.join(saved_model_dir, PREPROCESSING_FILE)
  try:
    return json.loads(run_files.read(path))
  except (OSError, ValueError, tf.errors.OpError) as e:
    raise SavedModelError(f'{path} is missing or unreadable ({e}); it records the '
                          'preprocessing training used and is written by impala_tf export.'
                          ) from e


def config_from_preprocessing(preprocessing: dict, base_config):
  """`base_config` with the recorded environment fields applied."""
  fields = {f: preprocessing[f] for f in PREPROCESSING_FIELDS if f in preprocessing}
  return dataclasses.replace(base_config, **fields)


def export_from_checkpoint(logdir: str, out_dir: str, checkpoint: str = None):
  """Exports the policy of a run's checkpoint (default: the newest)."""
  # Imported here: the learner imports this module for its periodic export.
  from impala_tf import config as config_lib  # pylint: disable=g-import-not-at-top
  from impala_tf import environments  # pylint: disable=g-import-not-at-top
  config = config_lib.load_config_file(os.path.join(logdir, 'config.py'))
  if checkpoint is None:
    checkpoint = tf.train.latest_checkpoint(os.path.join(logdir, 'checkpoints'))
    if checkpoint is None:
      raise SavedModelError(f'No checkpoint in {os.path.join(logdir, "checkpoints")}.')
  spec = environments.env_spec(config)
  network = networks.make_network(config, spec.observation_shape, spec.distribution,
                                  spec.channels_first, action_masks=spec.action_masks)
  try:
    tf.train.Checkpoint(network=network).restore(checkpoint).expect_partial() \
        .assert_existing_objects_matched()
  except checkpoints.RESTORE_ERRORS as e:
    raise SavedModelError(f'Checkpoint {checkpoint} cannot be restored: '
                          f'{str(e).splitlines()[0][:300]}') from e
  suffix = checkpoint.rsplit('-', 1)[-1]  # ckpt-<step>, as the learner names them
  step = int(suffix) if suffix.isdigit() else 0
  return export_policy(network, spec, config, out_dir, step=step)
