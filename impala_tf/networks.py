"""Keras agent networks of the paper (Fig. 3): torsos, LSTM core and heads.

One `ImpalaNetwork` serves both roles:
  * acting:   `step(inputs, state)` on one time step, inputs [B, ...];
  * learning: `unroll(inputs, state)` on [T+1, B, ...], the actor's unroll
              (T+1 observations; the last only bootstraps the value).
Both run the same layers and give the same outputs for the same inputs.

`NetworkInput` fields, per step:
  observation:  [.., *OBS_SHAPE], uint8 frames or float vectors.
  first:        bool [..], True where the observation starts an episode; the
                LSTM state is reset there and prev_action/prev_reward ignored.
  prev_action:  the action taken before this observation, [..] int32 or
                [.., ACTION_DIM] float32 (zeros at episode start).
  prev_reward:  float32 [..], the reward received on arriving here.
"""

import collections
from typing import Sequence

import numpy as np
import tensorflow as tf

from impala_tf import losses

def kernel_initializer(kind: str, gain: float = 2.0 ** 0.5):
  """Keras' glorot_uniform, or an orthogonal initialiser with `gain`
  (√2 for ReLU layers, as in the A2C/PPO Atari recipes)."""
  if kind == 'glorot_uniform':
    return tf.keras.initializers.GlorotUniform()
  if kind == 'orthogonal':
    return tf.keras.initializers.Orthogonal(gain=gain)
  raise ValueError(f"initializer must be 'glorot_uniform' or 'orthogonal', got {kind!r}.")


NetworkInput = collections.namedtuple(
    'NetworkInput', ['observation', 'first', 'prev_action', 'prev_reward'])
NetworkOutput = collections.namedtuple('NetworkOutput', ['policy_params', 'baseline'])

# The logit of an action a task may not take: its probability is exactly 0
# (finite, so entropies and KL terms stay finite: 0 · log 0 terms are 0).
MASKED_LOGIT = -1e9


@tf.function(jit_compile=True)
def _normalize(observation, scale, mean, var, clip):
  # One fused XLA kernel instead of five passes over the frames (cast,
  # scale, subtract, multiply, clip): three times faster on a CPU, and this
  # runs on every frame the actors see and every update's minibatch.
  x = tf.cast(observation, tf.float32) * scale
  return tf.clip_by_value((x - mean) * tf.math.rsqrt(var + 1e-8), -clip, clip)


@tf.function(jit_compile=True)
def _normalize_per_task(observation, task, scale, mean, var, clip):
  # As _normalize, each row with its task's statistics ([K, *OBS] → [N, *OBS]).
  return _normalize(observation, scale, tf.gather(mean, task), tf.gather(var, task), clip)


@tf.function(jit_compile=True)
def _sums(observation, scale):
  x = tf.cast(observation, tf.float32) * scale
  return tf.cast(tf.shape(x)[0], tf.float32), tf.reduce_sum(x, 0)


@tf.function(jit_compile=True)
def _sums_per_task(observation, task, scale, num_tasks):
  x = tf.cast(observation, tf.float32) * scale
  count = tf.math.unsorted_segment_sum(tf.ones_like(task, tf.float32), task, num_tasks)
  return count, tf.math.unsorted_segment_sum(x, task, num_tasks)


@tf.function(jit_compile=True)
def _squared_deviations(observation, scale, mean):
  x = tf.cast(observation, tf.float32) * scale
  return tf.reduce_sum(tf.square(x - mean), 0)


@tf.function(jit_compile=True)
def _squared_deviations_per_task(observation, task, scale, mean, num_tasks):
  x = tf.cast(observation, tf.float32) * scale
  return tf.math.unsorted_segment_sum(tf.square(x - tf.gather(mean, task)), task, num_tasks)


def observation_scale(dtype) -> float:
  """The factor that turns observations into floats: 1/255 for uint8 frames."""
  return 1.0 / 255.0 if tf.as_dtype(dtype) == tf.uint8 else 1.0


class ObservationNormalizer(tf.keras.layers.Layer):
  """Running per-element mean and variance of observations (as floats, uint8
  frames scaled to [0, 1]); the network sees (x − mean) / sqrt(var + 1e-8),
  clipped to ±CLIP.

  The statistics are non-trainable variables: checkpointed and published to
  actors with the weights. The learner merges each batch's moments into
  them (`update`) after training on it (so the batch is trained under the
  statistics its actors acted with). Before the first update the layer is
  the identity on scaled observations (mean 0, variance 1).

  For Atari this subtracts the static background pixel by pixel and scales
  each pixel by how much it varies, so the moving ball and paddles dominate
  the input from the first updates. With `num_tasks` K > 1 each task keeps
  its own statistics ([K, *OBS]) and every observation is normalised by
  its task's: one game's background is not another's, and pooled
  statistics would leave each game's static pixels as large inputs.
  """

  CLIP = 5.0

  def __init__(self, num_tasks: int = 1, **kwargs):
    super().__init__(**kwargs)
    self.num_tasks = num_tasks

  def build(self, input_shape):
    shape = list(input_shape[1:])
    tasks = [self.num_tasks] if self.num_tasks > 1 else []
    self.mean = self.add_weight('mean', tasks + shape, initializer='zeros', trainable=False)
    self.var = self.add_weight('var', tasks + shape, initializer='ones', trainable=False)
    self.count = self.add_weight('count', tasks, initializer='zeros', trainable=False)
    super().build(input_shape)

  def call(self, observation, task=None):
    """Raw observations [N, *OBS] (uint8 frames or floats) and, with several
    tasks, each row's task (int [N]) → normalised float32."""
    scale = observation_scale(observation.dtype)
    if self.num_tasks == 1:
      return _normalize(observation, scale, self.mean, self.var, self.CLIP)
    return _normalize_per_task(observation, _task_rows(task), scale, self.mean,
                               self.var, self.CLIP)

  def moments(self, observation, task=None, reduce=lambda sums: sums):
    """(count, mean, Σ(x − mean)²) of raw observations [N, *OBS], as the
    layer scales them (per task with several: [K], [K, *OBS], [K, *OBS]),
    what `update` merges.

    Two passes: the mean first, then the squared deviations from it. The
    one-pass Σx²/n − mean² cancels catastrophically in float32 when
    |mean| ≫ σ (a component near 1e4 with σ 1 came out 80 % off:
    networks_test). `reduce` is applied to each pass's sums before they are
    used: the identity for one device; the learner passes an all-reduce,
    which makes these the global batch's moments.
    """
    observation = tf.convert_to_tensor(observation)
    scale = observation_scale(observation.dtype)
    if self.num_tasks == 1:
      count, total = reduce(_sums(observation, scale))
      mean = total / tf.maximum(count, 1.0)
      return count, mean, reduce(_squared_deviations(observation, scale, mean))
    task = _task_rows(task)
    count, total = reduce(_sums_per_task(observation, task, scale, self.num_tasks))
    mean = total / tf.maximum(_broadcast_counts(count, total), 1.0)  # 0 for an absent task
    return count, mean, reduce(_squared_deviations_per_task(observation, task, scale, mean,
                                                            self.num_tasks))

  def update(self, count, batch_mean, batch_m2):
    """Merges a batch's moments (count, mean, Σ(x − mean)²; Chan et al.'s
    parallel variance update), unless the result is not finite (a NaN or
    Inf observation, or squares that overflow): then the statistics stay as
    they were. With several tasks each task merges its own moments; a task
    absent from the batch is left as it was. Returns whether every task
    present merged (a bool tensor)."""
    present = count > 0
    expand = lambda c: _broadcast_counts(c, batch_mean)
    c, own = expand(count), expand(self.count)
    new_count = self.count + count
    total_count = expand(new_count)
    delta = batch_mean - self.mean
    mean = self.mean + delta * c / tf.maximum(total_count, 1.0)
    m2 = self.var * own + batch_m2 + tf.square(delta) * own * c / tf.maximum(total_count, 1.0)
    var = m2 / tf.maximum(total_count, 1.0)
    elements = tf.range(1, tf.rank(mean)) if self.num_tasks > 1 else tf.range(tf.rank(mean))
    finite = (tf.reduce_all(tf.math.is_finite(mean), elements)
              & tf.reduce_all(tf.math.is_finite(var), elements) & tf.math.is_finite(new_count))
    ok = finite & present
    take = expand(ok)
    self.mean.assign(tf.where(take, mean, self.mean))
    self.var.assign(tf.where(take, var, self.var))
    self.count.assign(tf.where(ok, new_count, self.count))
    return tf.reduce_all(ok | ~present) & tf.reduce_any(present)


def _broadcast_counts(count, like):
  """Counts (a scalar, or [K] per task) shaped to broadcast over `like`'s
  observation elements."""
  return tf.reshape(count, tf.concat([tf.shape(count), tf.ones(
      [tf.rank(like) - tf.rank(count)], tf.int32)], 0))


def _task_rows(task):
  """Each observation row's task as int32 [N]; statistics per task need it."""
  if task is None:
    raise ValueError('observation statistics are kept per task: pass each row\'s task.')
  return tf.cast(tf.reshape(task, [-1]), tf.int32)


class MLPTorso(tf.keras.layers.Layer):
  """Fully connected ReLU layers for vector observations."""

  def __init__(self, hidden_sizes: Sequence[int], initializer='glorot_uniform', **kwargs):
    super().__init__(**kwargs)
    self._layers = [tf.keras.layers.Dense(h, activation='relu',
                                          kernel_initializer=kernel_initializer(initializer))
                    for h in hidden_sizes]

  def call(self, x):
    x = tf.reshape(x, [tf.shape(x)[0], -1])
    for layer in self._layers:
      x = layer(x)
    return x


class ShallowTorso(tf.keras.layers.Layer):
  """Paper Fig. 3 (left): conv 16 8×8/4, conv 32 4×4/2, fully connected 256."""

  def __init__(self, output_size: int = 256, initializer='glorot_uniform', **kwargs):
    super().__init__(**kwargs)
    init = lambda: kernel_initializer(initializer)
    self._conv1 = tf.keras.layers.Conv2D(16, 8, strides=4, activation='relu',
                                         kernel_initializer=init())
    self._conv2 = tf.keras.layers.Conv2D(32, 4, strides=2, activation='relu',
                                         kernel_initializer=init())
    self._flatten = tf.keras.layers.Flatten()
    self._fc = tf.keras.layers.Dense(output_size, activation='relu', kernel_initializer=init())

  def call(self, x):
    return self._fc(self._flatten(self._conv2(self._conv1(x))))


class NatureTorso(tf.keras.layers.Layer):
  """The DQN network's torso (Mnih et al. 2015), which the A2C and PPO Atari
  recipes use: conv 32 8×8/4, conv 64 4×4/2, conv 64 3×3/1, fully connected
  512. About three times the shallow torso's compute per frame."""

  def __init__(self, output_size: int = 512, initializer='glorot_uniform', **kwargs):
    super().__init__(**kwargs)
    init = lambda: kernel_initializer(initializer)
    self._convs = [
        tf.keras.layers.Conv2D(32, 8, strides=4, activation='relu', kernel_initializer=init()),
        tf.keras.layers.Conv2D(64, 4, strides=2, activation='relu', kernel_initializer=init()),
        tf.keras.layers.Conv2D(64, 3, strides=1, activation='relu', kernel_initializer=init()),
    ]
    self._flatten = tf.keras.layers.Flatten()
    self._fc = tf.keras.layers.Dense(output_size, activation='relu', kernel_initializer=init())

  def call(self, x):
    for conv in self._convs:
      x = conv(x)
    return self._fc(self._flatten(x))


class _ResidualBlock(tf.keras.layers.Layer):
  """ReLU, conv 3×3, ReLU, conv 3×3, plus the skip connection."""

  def __init__(self, channels: int, initializer='glorot_uniform', **kwargs):
    super().__init__(**kwargs)
    self._conv1 = tf.keras.layers.Conv2D(channels, 3, padding='same',
                                         kernel_initializer=kernel_initializer(initializer))
    self._conv2 = tf.keras.layers.Conv2D(channels, 3, padding='same',
                                         kernel_initializer=kernel_initializer(initializer))

  def call(self, x):
    return x + self._conv2(tf.nn.relu(self._conv1(tf.nn.relu(x))))


class ResNetTorso(tf.keras.layers.Layer):
  """Paper Fig. 3 (right): 3 sections (16, 32, 32 channels) of conv 3×3,
  max-pool 3×3/2 and two residual blocks: 15 conv layers, then FC 256."""

  def __init__(self, output_size: int = 256, channels=(16, 32, 32),
               initializer='glorot_uniform', **kwargs):
    super().__init__(**kwargs)
    self._sections = []
    for c in channels:
      self._sections.append([
          tf.keras.layers.Conv2D(c, 3, padding='same',
                                 kernel_initializer=kernel_initializer(initializer)),
          tf.keras.layers.MaxPool2D(3, strides=2, padding='same'),
          _ResidualBlock(c, initializer),
          _ResidualBlock(c, initializer),
      ])
    self._flatten = tf.keras.layers.Flatten()
    self._fc = tf.keras.layers.Dense(output_size, activation='relu',
                                     kernel_initializer=kernel_initializer(initializer))

  def call(self, x):
    for section in self._sections:
      for layer in section:
        x = layer(x)
    return self._fc(self._flatten(tf.nn.relu(x)))


def make_torso(name: str, mlp_hidden_sizes, output_size: int, initializer: str):
  """The torso a config names: 'mlp', 'shallow', 'nature' or 'resnet'."""
  if name == 'mlp':
    return MLPTorso(mlp_hidden_sizes, initializer)
  if name == 'shallow':
    return ShallowTorso(output_size, initializer)
  if name == 'nature':
    return NatureTorso(output_size, initializer)
  if name == 'resnet':
    return ResNetTorso(output_size, initializer=initializer)
  raise ValueError(
      f"torso must be 'mlp', 'shallow', 'nature' or 'resnet', got {name!r}.")


def embed_sequence(torso, normalizer, channels_first: bool, observation, task=None):
  """Torso features [T, B, F] of observations [T, B, *OBS_SHAPE] (normalised
  by `normalizer` if given, with each step's task [T, B] if it keeps
  statistics per task; else scaled to [0, 1] for images)."""
  observation = tf.convert_to_tensor(observation)
  t_dim, b_dim = tf.shape(observation)[0], tf.shape(observation)[1]
  flat = tf.reshape(observation, tf.concat([[t_dim * b_dim], tf.shape(observation)[2:]], 0))
  if normalizer is not None:
    x = normalizer(flat, None if task is None else tf.reshape(task, [-1]))
  else:
    x = tf.cast(flat, tf.float32) * observation_scale(flat.dtype)
  if not isinstance(torso, MLPTorso) and channels_first:
    x = tf.transpose(x, [0, 2, 3, 1])
  features = torso(x)
  return tf.reshape(features, [t_dim, b_dim, features.shape[-1]])


def run_core(core, features, inputs, core_state, num_actions: int, reward_clipping: str):
  """The LSTM core over time: features [T, B, F] with the previous action
  (one-hot for `num_actions` > 0) and clipped previous reward, reset where
  `inputs.first`. Returns (outputs [T, B, UNITS], final (h, c))."""
  units = core.units
  first = tf.convert_to_tensor(inputs.first)
  not_first = 1.0 - tf.cast(first, tf.float32)
  if num_actions:
    prev_action = tf.one_hot(tf.cast(inputs.prev_action, tf.int32), num_actions)
  else:
    prev_action = tf.cast(inputs.prev_action, tf.float32)
  prev_reward = losses.clip_rewards(
      tf.cast(inputs.prev_reward, tf.float32), reward_clipping)[..., None]
  # At an episode start the previous action and reward belong to another
  # episode: zero them, as the state is reset.
  core_input = tf.concat(
      [features, prev_action * not_first[..., None], prev_reward * not_first[..., None]],
      axis=-1)
  if not core.built:
    core.build(core_input.shape[2:])

  def scan_fn(carry, elems):
    _, state = carry
    x_t, not_first_t = elems
    keep = not_first_t[:, None]
    h, c = state[0] * keep, state[1] * keep
    out, (h, c) = core(x_t, [h, c])
    return out, (h, c)

  initial_out = tf.zeros([tf.shape(features)[1], units], tf.float32)
  outputs, states = tf.scan(
      scan_fn, (core_input, not_first), initializer=(initial_out, tuple(core_state)))
  return outputs, (states[0][-1], states[1][-1])


class ImpalaNetwork(tf.keras.Model):
  """Torso → (optional LSTM core) → policy and baseline heads."""

  def __init__(self,
               num_policy_params: int,
               torso: str = 'shallow',
               mlp_hidden_sizes: Sequence[int] = (64, 64),
               torso_output_size: int = 256,
               use_lstm: bool = False,
               lstm_units: int = 256,
               num_actions: int = 0,
               channels_first: bool = False,
               reward_clipping: str = 'abs_one',
               initializer: str = 'glorot_uniform',
               observation_normalization: bool = False,
               num_tasks: int = 1,
               normalizer_tasks: int = 1,
               action_masks=None,
               name: str = 'impala_network'):
    """Builds the layers (variables are created on the first call).

    Args:
      num_policy_params: P, the size of the policy head (see distributions).
      torso: 'mlp', 'shallow', 'nature' or 'resnet'.
      mlp_hidden_sizes: layer sizes of the MLP torso.
      torso_output_size: units of the conv torsos' fully connected layer.
      use_lstm: add the LSTM core fed [torso, prev action, prev reward].
      lstm_units: LSTM size (paper: 256).
      num_actions: > 0 for discrete actions: prev_action is one-hot encoded
        to this size; 0 for continuous actions (fed as they are).
      channels_first: observations are [C, H, W] (ale_py's frame stack)
        and are transposed to [H, W, C] for the convolutions.
      reward_clipping: how the previous reward is clipped for the core.
      initializer: 'glorot_uniform' (Keras' default) or 'orthogonal' (gain √2
        in the torso, 0.01 for the policy head, 1 for the baseline head).
      observation_normalization: normalise observations with running
        statistics (see ObservationNormalizer).
      num_tasks: K, the number of baseline outputs, one per task (the
        policy is shared): `baseline` is [..] for one task, [.., K] for more.
      normalizer_tasks: how many tasks keep their own observation
        statistics (1: one set for all).
      action_masks: None, or bool [K, A]: the actions task k's policy may
        take; the others' logits are set to MASKED_LOGIT (probability 0).
      name: model name.
    """
    super().__init__(name=name)
    self._torso = make_torso(torso, mlp_hidden_sizes, torso_output_size, initializer)
    self._channels_first = channels_first
    self._num_actions = num_actions
    self._reward_clipping = reward_clipping
    self.normalizer = (ObservationNormalizer(normalizer_tasks) if observation_normalization
                       else None)
    # A numpy array, made a constant where it is used: the actors build the
    # network eagerly and call it inside a graph of their own.
    self._action_masks = None if action_masks is None else np.asarray(action_masks, bool)
    self.use_lstm = use_lstm
    self._lstm_units = lstm_units
    if use_lstm:
      self._core = tf.keras.layers.LSTMCell(lstm_units)
    # Orthogonal: a small policy head starts the policy near uniform, so
    # early actions explore and early ratios π/μ stay near 1.
    self._policy_head = tf.keras.layers.Dense(
        num_policy_params, name='policy',
        kernel_initializer=kernel_initializer(initializer, gain=0.01))
    self.num_tasks = num_tasks
    self._baseline_head = tf.keras.layers.Dense(
        num_tasks, name='baseline', kernel_initializer=kernel_initializer(initializer, gain=1.0))

  @property
  def baseline_head(self):
    """The baseline's last linear layer (PopArt rescales its kernel and bias)."""
    return self._baseline_head

  def variable_groups(self):
    """{group: [indices into trainable_variables]} for the torso, the LSTM
    core (if any) and the two heads: what the learner's diagnostics report
    per layer group."""
    index = {v.ref(): i for i, v in enumerate(self.trainable_variables)}
    parts = {'torso': self._torso, 'policy': self._policy_head,
             'baseline': self._baseline_head}
    if self.use_lstm:
      parts['core'] = self._core
    return {name: [index[v.ref()] for v in layer.trainable_variables]
            for name, layer in parts.items()}

  def initial_state(self, batch_size):
    """The core state at an episode start: (h, c), each float32 [B, UNITS],
    or an empty tuple for a feed-forward network."""
    if not self.use_lstm:
      return ()
    zeros = tf.zeros([batch_size, self._lstm_units], tf.float32)
    return (zeros, zeros)


  @property
  def normalizes_per_task(self) -> bool:
    """Whether observations are normalised with their task's statistics."""
    return self.normalizer is not None and self.normalizer.num_tasks > 1

  @property
  def needs_task(self) -> bool:
    """Whether `unroll` and `step` need each step's task: observations
    normalised per task, or actions masked per task."""
    return self.normalizes_per_task or self._action_masks is not None

  def unroll(self, inputs: NetworkInput, core_state, task=None):
    """Runs the network over time-major inputs.

    Args:
      inputs: NetworkInput with leading dimensions [T, B].
      core_state: the state before the first step (from `initial_state` or
        recorded by the actor at the start of the unroll).
      task: int [T, B], each step's task, when `needs_task`.

    Returns:
      (NetworkOutput(policy_params [T, B, P], baseline [T, B] or, with several
      tasks, [T, B, K]), final state).
    """
    if self.needs_task and task is None:
      raise ValueError('this network normalises observations or masks actions per task: '
                       'pass each step\'s task.')
    features = embed_sequence(self._torso, self.normalizer, self._channels_first,
                              inputs.observation, task)
    if self.use_lstm:
      features, core_state = run_core(self._core, features, inputs, core_state,
                                      self._num_actions, self._reward_clipping)
    policy_params = self._policy_head(features)
    if self._action_masks is not None:
      allowed = tf.gather(tf.constant(self._action_masks), tf.cast(task, tf.int32))
      policy_params = tf.where(allowed, policy_params, MASKED_LOGIT)
    baseline = self._baseline_head(features)
    if self.num_tasks == 1:
      baseline = tf.squeeze(baseline, -1)
    return NetworkOutput(policy_params, baseline), core_state

  def step(self, inputs: NetworkInput, core_state, task=None):
    """One acting step: inputs [B, ...] (and task [B]) → (NetworkOutput
    [B, ...], new state)."""
    expanded = tf.nest.map_structure(lambda x: tf.expand_dims(x, 0), inputs)
    outputs, core_state = self.unroll(
        expanded, core_state, None if task is None else tf.expand_dims(task, 0))
    return tf.nest.map_structure(lambda x: x[0], outputs), core_state

  def call(self, inputs, core_state):
    return self.unroll(inputs, core_state)


def make_network(config, observation_shape, distribution, channels_first=False, build=True,
                 action_masks=None):
  """Makes an ImpalaNetwork for `config` and (by default) creates its variables.

  Args:
    config: an ImpalaConfig.
    observation_shape: the single-environment observation shape.
    distribution: an `impala_tf.distributions` object for the action space.
    channels_first: observations are [C, H, W] frame stacks.
    action_masks: bool [K, A] per-task action masks (EnvSpec.action_masks).
    build: create the variables now, with one eager call. False leaves that
      to the first call, e.g. inside a `tf.Graph` (graph_policy): Keras
      layers must be constructed eagerly, since constructing one inside a
      v1 graph turns its class into a v1 layer for the whole process.
  """
  num_actions = getattr(distribution, 'num_actions', 0)
  network = ImpalaNetwork(
      num_policy_params=distribution.num_params,
      torso=config.torso,
      mlp_hidden_sizes=config.mlp_hidden_sizes,
      torso_output_size=config.torso_output_size,
      use_lstm=config.use_lstm,
      lstm_units=config.lstm_units,
      num_actions=num_actions,
      channels_first=channels_first,
      reward_clipping=config.reward_clipping,
      initializer=config.initializer,
      observation_normalization=config.observation_normalization,
      num_tasks=config.num_tasks,
      normalizer_tasks=(config.num_tasks if config.observation_normalization_per_task
                        else 1),
      action_masks=action_masks)
  if not build:
    return network
  dummy = NetworkInput(
      observation=tf.zeros([1, 1, *observation_shape], tf.float32),
      first=tf.ones([1, 1], tf.bool),
      prev_action=tf.zeros([1, 1, *distribution.action_shape], distribution.action_dtype),
      prev_reward=tf.zeros([1, 1], tf.float32))
  network.unroll(dummy, network.initial_state(1),
                 tf.zeros([1, 1], tf.int32) if network.needs_task else None)
  return network


def make_acting_network(config, env_spec):
  """The actor-critic network an actor acts with, unbuilt (its variables are
  made inside the actor's graph): the one the V-trace learner step trains."""
  return make_network(config, env_spec.observation_shape, env_spec.distribution,
                      env_spec.channels_first, build=False, action_masks=env_spec.action_masks)
