"""What one step of an unroll holds, and how the learner reads an unroll.

An actor with E environments records at every agent step t two parts:
first what it knows before acting (the observation part), then its decision
(the action part):

  observation     [E, *OBS]   x_t
  first           bool [E]    x_t starts an episode
  reward          f32 [E]     reward received on arriving at x_t (0 if first)
  terminal        bool [E]    the episode terminated on arriving at x_t (or,
                              with episodic_life, a life was lost: terminal
                              for learning, while the game goes on)
  last            bool [E]    x_t ends the episode (terminated or truncated):
                              the next step is the environment's reset step
  prev_action     [E, *ACT]   action taken at x_{t−1} (0 if first)
  episode_return  f32 [E]     return of the current episode up to x_t
  episode_length  i32 [E]     agent steps of the current episode up to x_t
  task            i32 [E]     the task the environment runs (multi-task)
  episode_version i64 [E]     weights version that took the current episode's
                              first action (read where `last`: at a first
                              step, before that action, it is the previous
                              episode's); PBT counts an episode only if its
                              whole play came after a decision
  core_state      (h, c)      LSTM state before x_t (LSTM networks only)
  --- action part ---
  action          [E, *ACT]   a_t ~ μ(·|x_t)
  policy_params   f32 [E, P]  μ's parameters at x_t (behaviour policy)
  weights_version i64 [E]     learner step of the weights that acted

A queue item is one actor's T+1 consecutive observation parts [T+1, E, ...]
and the T action parts between them [T, E, ...]; the next item starts at this
item's last observation (overlap of one), so every transition is followed by
the observation that bootstraps it. An item is written as soon as x_T is
observed, before acting on it: all T actions of an item come from the weights
the actor fetched at the start of the unroll. Only the first step's
core_state is kept ([E, UNITS]).

For the loss, transition t (t < T) goes from x_t to x_{t+1}:
  r_t = reward[t+1],  γ_t = discount · (1 − terminal[t+1]),
  mask_t = 1 − last[t] (the reset step after an episode end is not learnt).
"""

import collections

import tensorflow as tf

ACTION_COLUMNS = ('action', 'policy_params', 'weights_version')

# The rows of the episodes a learner step reports ([len, T, B] float32, or
# [len, N] from R2D2's progress queue): an episode ends where `done` is 1.
# Versions are exact in float32 up to 2**24 learner steps.
EPISODE_ROWS = ('done', 'return', 'length', 'task', 'start_version')
# The step columns they are read from, and those columns' dtypes.
EPISODE_COLUMNS = ('last', 'episode_return', 'episode_length', 'task', 'episode_version')
_EPISODE_DTYPES = {'last': tf.bool, 'episode_return': tf.float32, 'episode_length': tf.int32,
                   'task': tf.int32, 'episode_version': tf.int64}


def episode_column_specs(shape):
  """{column: spec of `shape`} of `EPISODE_COLUMNS`, as steps record them
  (A3C's gradient items carry them for steps 1..T)."""
  return {name: tf.TensorSpec(shape, _EPISODE_DTYPES[name]) for name in EPISODE_COLUMNS}


LossInputs = collections.namedtuple(
    'LossInputs',
    ['behaviour_policy_params', 'actions', 'rewards', 'discounts', 'mask'])


def step_spec(env_spec, distribution, num_envs: int, lstm_units: int = 0,
              core_state=None):
  """Per-step column specs for an actor with `num_envs` environments.

  The recurrent state is the LSTM's (h, c) of `lstm_units`, or `core_state`,
  any structure of `tf.TensorSpec` [num_envs, ...] (MERLIN's memory).
  """
  e = num_envs
  spec = {
      'observation': tf.TensorSpec([e, *env_spec.observation_shape],
                                   tf.as_dtype(env_spec.observation_dtype)),
      'first': tf.TensorSpec([e], tf.bool),
      'reward': tf.TensorSpec([e], tf.float32),
      'terminal': tf.TensorSpec([e], tf.bool),
      'prev_action': tf.TensorSpec([e, *distribution.action_shape], distribution.action_dtype),
      'action': tf.TensorSpec([e, *distribution.action_shape], distribution.action_dtype),
      'policy_params': tf.TensorSpec([e, distribution.num_params], tf.float32),
      'weights_version': tf.TensorSpec([e], tf.int64),
      **episode_column_specs([e]),
  }
  if core_state is not None:
    spec['core_state'] = core_state
  elif lstm_units:
    spec['core_state'] = (tf.TensorSpec([e, lstm_units], tf.float32),
                          tf.TensorSpec([e, lstm_units], tf.float32))
  return spec


def item_signature(step_specs, unroll_length: int):
  """The queue table's signature: [T+1, ...] per observation column,
  [T, ...] per action column, core_state once."""
  signature = {}
  for name, spec in step_specs.items():
    if name == 'core_state':
      signature[name] = spec
    else:
      length = unroll_length if name in ACTION_COLUMNS else unroll_length + 1
      signature[name] = tf.TensorSpec([length, *spec.shape], spec.dtype)
  return signature


def item_columns(history, unroll_length: int):
  """The columns of one item from a Reverb writer's history, taken when the
  newest step holds only its observation part."""
  columns = {}
  for name in history.keys():
    if name == 'core_state':
      columns[name] = tf.nest.map_structure(lambda col: col[-(unroll_length + 1)],
                                            history[name])
    elif name in ACTION_COLUMNS:
      columns[name] = history[name][-(unroll_length + 1):-1]
    else:
      columns[name] = history[name][-(unroll_length + 1):]
  return columns


def insert_step_item(writer, table, priority, item):
  """Appends `item` as one step of `writer` and inserts that step alone into
  `table`: an item that is one structure of arrays (an A3C gradient, an R2D2
  actor's progress report), not a slice of a stream of steps."""
  writer.append(item)
  writer.create_item(table, priority=priority, trajectory=tf.nest.map_structure(
      lambda column: column[-1], writer.history))


def to_time_major(items):
  """K stacked items → one time-major batch of K·E trajectories.

  Args:
    items: dict of [K, T(+1), E, ...] columns (core_state: [K, E, UNITS]).

  Returns:
    dict of [T(+1), K·E, ...] columns (core_state: [K·E, UNITS]).
  """
  def merge(x, time_axis):
    x = tf.convert_to_tensor(x)
    if time_axis:
      perm = [1, 0] + list(range(2, x.shape.rank))
      x = tf.transpose(x, perm)
      shape = tf.shape(x)
      return tf.reshape(x, tf.concat([[shape[0], shape[1] * shape[2]], shape[3:]], 0))
    shape = tf.shape(x)
    return tf.reshape(x, tf.concat([[shape[0] * shape[1]], shape[2:]], 0))

  batch = {}
  for name, value in items.items():
    if name == 'core_state':
      batch[name] = tf.nest.map_structure(lambda s: merge(s, time_axis=False), value)
    else:
      batch[name] = merge(value, time_axis=True)
  return batch


def loss_inputs(batch, discount: float) -> LossInputs:
  """Aligns a time-major [T+1, B] batch into the T transitions of the loss."""
  not_terminal = 1.0 - tf.cast(batch['terminal'][1:], tf.float32)
  return LossInputs(
      behaviour_policy_params=batch['policy_params'],
      actions=batch['action'],
      rewards=batch['reward'][1:],
      discounts=discount * not_terminal,
      mask=1.0 - tf.cast(batch['last'][:-1], tf.float32))


def episode_rows(columns):
  """float32 [len(EPISODE_ROWS), ...]: `EPISODE_COLUMNS` of some steps, each
  step where `last` holds ending an episode."""
  return tf.stack([tf.cast(columns[name], tf.float32) for name in EPISODE_COLUMNS])


def finished_episodes(batch):
  """float32 [len(EPISODE_ROWS), T, B]: the episodes ending in steps 1..T of
  each item (step 0 repeats the previous item's last step)."""
  return episode_rows({name: batch[name][1:] for name in EPISODE_COLUMNS})
