"""R2D2's recurrent Q network: the shared torso and LSTM core, a dueling head.

The paper's network: the conv torso, an LSTM (512 units) fed the torso's
features with the previous action (one-hot) and reward, then a dueling head
(Wang et al. 2016): Q(s, a) = V(s) + A(s, a) − mean_a A(s, a), each stream a
hidden layer of 512 then a linear output. The torso and the core are
IMPALA's own (`impala_tf.networks`), so both agents share them.
"""

import tensorflow as tf

from impala_tf import networks


class DuelingHead(tf.keras.layers.Layer):
  """Q [..., A] from features [..., F] through value and advantage streams."""

  def __init__(self, num_actions: int, hidden: int = 512, **kwargs):
    super().__init__(**kwargs)
    self._value = [tf.keras.layers.Dense(hidden, tf.nn.relu), tf.keras.layers.Dense(1)]
    self._advantage = [tf.keras.layers.Dense(hidden, tf.nn.relu),
                       tf.keras.layers.Dense(num_actions)]

  def call(self, features):
    value, advantage = features, features
    for layer in self._value:
      value = layer(value)
    for layer in self._advantage:
      advantage = layer(advantage)
    return value + advantage - tf.reduce_mean(advantage, axis=-1, keepdims=True)


class RecurrentQNetwork(tf.keras.Model):
  """Torso → (LSTM core) → dueling Q head."""

  # Nothing in it is per task (R2D2 runs one task): `step` takes no task.
  needs_task = False

  def __init__(self, num_actions: int, torso: str = 'nature', mlp_hidden_sizes=(64, 64),
               torso_output_size: int = 512, use_lstm: bool = True, lstm_units: int = 512,
               head_hidden: int = 512, channels_first: bool = False,
               reward_clipping: str = 'abs_one', initializer: str = 'glorot_uniform',
               name: str = 'r2d2_network'):
    super().__init__(name=name)
    self._torso = networks.make_torso(torso, mlp_hidden_sizes, torso_output_size, initializer)
    self.use_lstm = use_lstm
    self._lstm_units = lstm_units
    if use_lstm:
      self._core = tf.keras.layers.LSTMCell(lstm_units)
    self._head = DuelingHead(num_actions, head_hidden)
    self._num_actions = num_actions
    self._channels_first = channels_first
    self._reward_clipping = reward_clipping

  def initial_state(self, batch_size):
    """(h, c), each float32 [B, UNITS]; () without the LSTM."""
    if not self.use_lstm:
      return ()
    zeros = tf.zeros([batch_size, self._lstm_units], tf.float32)
    return (zeros, zeros)

  def unroll(self, inputs: networks.NetworkInput, core_state):
    """Q values [T, B, A] over time-major inputs, and the final state."""
    features = networks.embed_sequence(self._torso, None, self._channels_first,
                                       inputs.observation)
    if self.use_lstm:
      features, core_state = networks.run_core(self._core, features, inputs, core_state,
                                               self._num_actions, self._reward_clipping)
    return self._head(features), core_state

  def step(self, inputs: networks.NetworkInput, core_state):
    """One acting step, inputs [B, ...] → (NetworkOutput, new state), the
    interface IMPALA's network has: `policy_params` are the Q values [B, A]
    (the greedy action is their argmax, as a categorical's mode is) and
    `baseline` is max_a Q [B], in the rescaled space."""
    expanded = tf.nest.map_structure(lambda x: tf.expand_dims(x, 0), inputs)
    q, core_state = self.unroll(expanded, core_state)
    q = q[0]
    return networks.NetworkOutput(q, tf.reduce_max(q, axis=-1)), core_state

  def call(self, inputs, core_state):
    return self.unroll(inputs, core_state)


def make_network(config, observation_shape, num_actions: int, channels_first=False,
                 build=True) -> RecurrentQNetwork:
  """The config's recurrent Q network; `build` creates its variables now
  (see `impala_tf.networks.make_network`)."""
  network = RecurrentQNetwork(
      num_actions, torso=config.torso, mlp_hidden_sizes=config.mlp_hidden_sizes,
      torso_output_size=config.torso_output_size, use_lstm=config.use_lstm,
      lstm_units=config.lstm_units, head_hidden=config.r2d2.head_hidden,
      channels_first=channels_first, reward_clipping=config.reward_clipping,
      initializer=config.initializer)
  if build:
    dummy = networks.NetworkInput(
        observation=tf.zeros([1, 1, *observation_shape], tf.float32),
        first=tf.ones([1, 1], tf.bool), prev_action=tf.zeros([1, 1], tf.int32),
        prev_reward=tf.zeros([1, 1], tf.float32))
    network.unroll(dummy, network.initial_state(1))
  return network
