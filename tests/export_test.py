"""SavedModel export: plain loading without impala_tf, tf-agents loading,
actions identical to the in-process policy across LSTM steps and resets."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import tensorflow as tf
from tf_agents.policies import py_tf_eager_policy
from tf_agents.trajectories import time_step as ts

from impala_tf import config as config_lib
from impala_tf import environments
from impala_tf import export
from impala_tf import networks

# Runs in a fresh interpreter that imports only TensorFlow and numpy.
_PLAIN_LOADER = textwrap.dedent('''
    import sys
    import numpy as np
    import tensorflow as tf
    path, data, out = sys.argv[1:]
    d = np.load(data)
    policy = tf.saved_model.load(path)
    state = policy.get_initial_state(d['observation'].shape[1])
    logits, actions = [], []
    for t in range(d['observation'].shape[0]):
      time_step = {'step_type': tf.constant(d['step_type'][t]),
                   'reward': tf.constant(d['reward'][t]),
                   'discount': tf.ones_like(tf.constant(d['reward'][t])),
                   'observation': tf.constant(d['observation'][t])}
      from collections import namedtuple
      TimeStep = namedtuple('TimeStep', ['step_type', 'reward', 'discount', 'observation'])
      step = policy.action(TimeStep(**time_step), state)
      state = step.state
      logits.append(step.info['policy_params'].numpy())
      actions.append(step.action.numpy())
    assert not any(m.startswith('impala_tf') for m in sys.modules), 'imported impala_tf'
    np.savez(out, logits=np.stack(logits), actions=np.stack(actions))
''')


def _sequence(rng, t_len, batch, obs_dim):
  step_type = np.ones((t_len, batch), np.int32)   # MID
  step_type[0] = 0                                # FIRST
  step_type[3, 1] = 2                             # env 1: LAST at t=3 ...
  step_type[4, 1] = 0                             # ... and a new episode at t=4
  reward = rng.normal(size=(t_len, batch)).astype(np.float32)
  reward[step_type == 0] = 0.0
  observation = rng.normal(size=(t_len, batch, obs_dim)).astype(np.float32)
  return step_type, reward, observation


class ExportTest(tf.test.TestCase):

  def setUp(self):
    super().setUp()
    self.config = config_lib.ImpalaConfig(
        env_id='CartPole-v1', torso='mlp', use_lstm=True, lstm_units=16,
        envs_per_actor=1, batch_size=1, observation_normalization=True)
    self.spec = environments.env_spec(self.config)
    self.network = networks.make_network(self.config, self.spec.observation_shape,
                                         self.spec.distribution)
    # Statistics far from the identity: an export that lost them would not
    # reproduce the network's actions.
    rng = np.random.default_rng(7)
    self.network.normalizer.update(*self.network.normalizer.moments(
        rng.normal(1.0, 3.0, size=(50, 4)).astype(np.float32)))
    self.out = export.export_policy(self.network, self.spec, self.config,
                                    os.path.join(self.get_temp_dir(), 'export'), step=42)

  def _in_process(self, step_type, reward, observation, greedy=True):
    policy = export.ImpalaPolicy(self.network, self.spec, greedy=greedy)
    state = policy.get_initial_state(observation.shape[1])
    logits, actions = [], []
    for t in range(observation.shape[0]):
      step = policy.action(ts.TimeStep(tf.constant(step_type[t]), tf.constant(reward[t]),
                                       tf.ones_like(tf.constant(reward[t])),
                                       tf.constant(observation[t])), state)
      state = step.state
      logits.append(step.info['policy_params'].numpy())
      actions.append(step.action.numpy())
    return np.stack(logits), np.stack(actions)

  def test_plain_load_in_fresh_process_matches_in_process_policy(self):
    rng = np.random.default_rng(0)
    step_type, reward, observation = _sequence(rng, 7, 3, 4)
    data = os.path.join(self.get_temp_dir(), 'inputs.npz')
    np.savez(data, step_type=step_type, reward=reward, observation=observation)
    result = os.path.join(self.get_temp_dir(), 'outputs.npz')
    proc = subprocess.run(
        [sys.executable, '-c', _PLAIN_LOADER, os.path.join(self.out, 'greedy'), data, result],
        capture_output=True, text=True, timeout=300,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL='3'), cwd=self.get_temp_dir())
    self.assertEqual(proc.returncode, 0, proc.stderr[-3000:])
    loaded = np.load(result)
    logits, actions = self._in_process(step_type, reward, observation)
    self.assertAllClose(logits, loaded['logits'], atol=1e-5)
    self.assertAllEqual(actions, loaded['actions'])
    # And both equal the network's own unroll, with the core reset where an
    # episode starts and the previous action/reward fed as in training.
    first = step_type == 0
    prev_action = np.concatenate([np.zeros((1, 3), np.int32), actions[:-1]])
    unrolled, _ = self.network.unroll(
        networks.NetworkInput(observation, first, prev_action, reward),
        self.network.initial_state(3))
    self.assertAllClose(unrolled.policy_params, logits, atol=1e-5)
    self.assertAllEqual(np.argmax(unrolled.policy_params, -1), actions)

  def test_tf_agents_saved_model_policy(self):
    rng = np.random.default_rng(1)
    step_type, reward, observation = _sequence(rng, 5, 2, 4)
    policy = py_tf_eager_policy.SavedModelPyTFEagerPolicy(
        os.path.join(self.out, 'greedy'), load_specs_from_pbtxt=True,
        batch_time_steps=False)  # our time steps carry their batch dimension
    self.assertEqual(policy.get_train_step(), 42)
    state = policy.get_initial_state(2)
    actions = []
    for t in range(5):
      step = policy.action(ts.TimeStep(step_type[t], reward[t], np.ones(2, np.float32),
                                        observation[t]), state)
      state = step.state
      actions.append(step.action)
    _, expected = self._in_process(step_type, reward, observation)
    self.assertAllEqual(expected, np.stack(actions))

  def test_sampling_export_samples_valid_actions(self):
    policy = tf.saved_model.load(os.path.join(self.out, 'sampling'))
    obs = np.random.default_rng(2).normal(size=(64, 4)).astype(np.float32)
    step = policy.action(ts.TimeStep(tf.zeros(64, tf.int32), tf.zeros(64), tf.ones(64),
                                     tf.constant(obs)), policy.get_initial_state(64))
    actions = step.action.numpy()
    self.assertTrue(set(actions.tolist()) <= {0, 1})

  def test_preprocessing_recorded(self):
    recorded = export.read_preprocessing(os.path.join(self.out, 'greedy'))
    self.assertEqual(recorded['env_id'], 'CartPole-v1')
    self.assertTrue(recorded['greedy'])
    self.assertEqual(recorded['train_step'], 42)

  def test_missing_and_broken_directories(self):
    with self.assertRaisesRegex(export.SavedModelError, 'not a directory'):
      export.read_preprocessing(os.path.join(self.get_temp_dir(), 'nope'))
    with self.assertRaisesRegex(export.SavedModelError, 'did you mean'):
      export.read_preprocessing(self.out)
    broken = os.path.join(self.get_temp_dir(), 'broken')
    os.makedirs(broken)
    with open(os.path.join(broken, 'saved_model.pb'), 'w') as f:
      f.write('not a protobuf')
    with open(os.path.join(broken, export.PREPROCESSING_FILE), 'w') as f:
      f.write('{"env_id": "CartPole-v1"}')
    from impala_tf import evaluation  # pylint: disable=g-import-not-at-top
    with self.assertRaisesRegex(export.SavedModelError, 'could not be loaded'):
      evaluation.load_policy(broken)


class PerTaskExportTest(tf.test.TestCase):
  """Exports that normalise observations or mask actions per task: the task
  is in the policy state, outlives episode starts, and picks the statistics
  and the mask."""

  def test_actions_follow_the_task_in_the_state(self):
    config = config_lib.ImpalaConfig(
        env_id='CartPole-v1', torso='mlp', use_lstm=True, lstm_units=8, envs_per_actor=1,
        batch_size=2, num_actors=2, tasks=('CartPole-v1', 'CartPole-v1'),
        observation_normalization=True)
    spec = environments.env_spec(config)
    network = networks.make_network(config, spec.observation_shape, spec.distribution)
    rng = np.random.default_rng(3)
    obs = np.concatenate([rng.normal(1.0, 3.0, (50, 4)), rng.normal(-2.0, 0.2, (50, 4))])
    network.normalizer.update(*network.normalizer.moments(
        obs.astype(np.float32), np.repeat([0, 1], 50).astype(np.int32)))
    out = export.export_policy(network, spec, config, os.path.join(self.get_temp_dir(), 'x'))
    policy = tf.saved_model.load(os.path.join(out, 'greedy'))
    step_type, reward, observation = _sequence(rng, 7, 3, 4)
    task = np.array([1, 0, 1], np.int32)
    state = policy.get_initial_state(3)
    self.assertAllEqual([0, 0, 0], state['task'])
    state = dict(state, task=tf.constant(task))
    logits = []
    for t in range(7):
      step = policy.action(ts.TimeStep(tf.constant(step_type[t]), tf.constant(reward[t]),
                                       tf.ones(3), tf.constant(observation[t])), state)
      state = step.state
      self.assertAllEqual(task, state['task'])   # kept across env 1's new episode at t=4
      logits.append(step.info['policy_params'].numpy())
    actions = np.argmax(np.stack(logits), -1)
    prev_action = np.concatenate([np.zeros((1, 3), np.int64), actions[:-1]]).astype(np.int32)
    unrolled, _ = network.unroll(
        networks.NetworkInput(observation, step_type == 0, prev_action, reward),
        network.initial_state(3), np.tile(task, (7, 1)))
    self.assertAllClose(unrolled.policy_params, np.stack(logits), atol=1e-5)
    wrong, _ = network.unroll(
        networks.NetworkInput(observation, step_type == 0, prev_action, reward),
        network.initial_state(3), np.tile(1 - task, (7, 1)))
    self.assertNotAllClose(wrong.policy_params, np.stack(logits))

  def test_action_masks_follow_the_task_in_the_state(self):
    config = config_lib.ImpalaConfig(env_id='CartPole-v1', torso='mlp', envs_per_actor=1,
                                     batch_size=2, num_actors=2,
                                     tasks=('CartPole-v1', 'CartPole-v1'))
    spec = environments.env_spec(config)
    # Task k may only take action k.
    network = networks.make_network(config, spec.observation_shape, spec.distribution,
                                    action_masks=np.eye(2, dtype=bool))
    out = export.export_policy(network, spec, config, os.path.join(self.get_temp_dir(), 'm'))
    rng = np.random.default_rng(5)
    for name in ('greedy', 'sampling'):
      policy = tf.saved_model.load(os.path.join(out, name))
      task = np.array([0, 1, 1, 0, 1], np.int32)
      state = dict(policy.get_initial_state(5), task=tf.constant(task))
      for t in range(4):
        step = policy.action(ts.TimeStep(tf.constant([0, 1, 1, 1, 2], tf.int32),
                                         tf.zeros(5), tf.ones(5), tf.constant(
                                             rng.normal(size=(5, 4)).astype(np.float32))),
                             state)
        state = step.state
        self.assertAllEqual(task, step.action)


if __name__ == '__main__':
  tf.test.main()
