"""One run, one configuration: the learner publishes its config, actors check theirs.

Actors connect to a learner by address, so an actor started with another
preset or other overrides than its learner would otherwise fail far from
the cause: a weights-count error, a Reverb signature dump, or (worse) data
that fits but means something else. The learner writes its resolved config
as JSON into a one-item Reverb table; an actor reads it when it connects and
stops with one line naming every field that differs, if any.
"""

import dataclasses
import json

import reverb
import tensorflow as tf

CONFIG_TABLE = 'run_config'

# Fields an actor and its learner must agree on: what the environments
# are, what an unroll holds, how the network is built, and how the actor
# writes. Learner-only settings (optimiser, losses, logging) may differ.
ACTOR_FIELDS = (
    'env_id', 'tasks', 'task_reward_scales', 'full_action_space', 'action_repeat',
    'frame_stack', 'noop_max', 'sticky_action_probability', 'max_episode_frames',
    'max_episode_steps', 'envs_per_actor', 'unroll_length', 'torso', 'mlp_hidden_sizes',
    'torso_output_size', 'use_lstm', 'lstm_units', 'observation_normalization',
    'observation_normalization_per_task', 'task_action_masks',
    'reward_clipping', 'synchronous', 'replay_fraction', 'architecture',
    'hidden_observation_components', 'observation_key', 'observation_dtype', 'discount',
    'r2d2.sequence_length', 'r2d2.sequence_period', 'r2d2.burn_in', 'r2d2.head_hidden',
    'r2d2.epsilon_base', 'r2d2.epsilon_alpha')


class ConfigMismatch(Exception):
  """An actor's config differs from its learner's in fields that matter."""


def table() -> reverb.Table:
  return reverb.Table(
      name=CONFIG_TABLE, sampler=reverb.selectors.Uniform(), remover=reverb.selectors.Fifo(),
      max_size=1, rate_limiter=reverb.rate_limiters.MinSize(1),
      signature={'config': tf.TensorSpec([], tf.string)})


def to_json(config) -> str:
  return json.dumps(dataclasses.asdict(config), sort_keys=True)


def publish(client: reverb.Client, config):
  """Writes the learner's config (it stays until the server stops)."""
  with client.trajectory_writer(num_keep_alive_refs=1) as writer:
    writer.append({'config': to_json(config).encode()})
    writer.create_item(CONFIG_TABLE, 1.0, {'config': writer.history['config'][-1]})


def _get(config: dict, name: str):
  """A field of a config's JSON dict; 'section.field' reads inside a section."""
  for part in name.split('.'):
    config = config.get(part) if isinstance(config, dict) else None
  return config


def differences(mine: dict, theirs: dict):
  """[(field, actor's value, learner's value)] over ACTOR_FIELDS."""
  out = []
  for name in ACTOR_FIELDS:
    a, b = _get(mine, name), _get(theirs, name)
    if isinstance(a, (list, tuple)) or isinstance(b, (list, tuple)):
      a, b = list(a or []), list(b or [])
    if a != b:
      out.append((name, a, b))
  return out


def check(client: reverb.Client, config):
  """Raises ConfigMismatch if the learner's published config differs from
  `config` in a field of ACTOR_FIELDS. A learner that publishes none (an
  older version) is not checked."""
  if CONFIG_TABLE not in client.server_info():
    return
  sample = next(client.sample(CONFIG_TABLE, num_samples=1, emit_timesteps=False,
                              unpack_as_table_signature=True))
  value = sample.data['config']
  value = value.item() if hasattr(value, 'item') else value
  theirs = json.loads(value.decode() if isinstance(value, bytes) else value)
  found = differences(json.loads(to_json(config)), theirs)
  if found:
    fields = '; '.join(f'{name}: actor {a!r}, learner {b!r}' for name, a, b in found)
    raise ConfigMismatch(
        f'this actor\'s config differs from its learner\'s in {fields}. Start every process '
        'of a run from the run\'s config.py (--config=<logdir>/config.py).')
