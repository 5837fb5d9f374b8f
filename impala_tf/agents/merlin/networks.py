"""MERLIN's network: the memory-based predictor (MBP) and the policy.

Per step t, for each environment (Wayne et al. 2018, Methods):

  MBP     e_t   = [torso(o_t), a_{t−1} (one-hot), clipped r_{t−1}]  the encoder
          prior p(z_t) = N(μ_p, σ_p) from [h_{t−1}, m_{t−1}]
          posterior q(z_t) = N(μ_p + Δμ, σ_p · exp Δlogσ), (Δμ, Δlogσ) from
                [e_t, h_{t−1}, m_{t−1}, μ_p, log σ_p]
          z_t ~ q (reparameterised)
          h_t   = deep LSTM([z_t, m_{t−1}])
          m_t   = K reads of memory M_{t−1} with keys and strengths from h_t
          decoders from z_t: o_t, r_{t−1}, a_{t−1}; the return (the value
                baseline) from [z_t, stop_gradient(π_t)]
          M_t   = write(M_{t−1}, z_t)   (memory.write)
  policy  h^π_t = LSTM([sg(z_t), sg(m^π_{t−1})])
          m^π_t = its own reads of sg(M_{t−1}), keys from h^π_t
          π_t   = softmax(W [h^π_t, m^π_t])

The policy sees the MBP only through stop-gradients, so the policy's loss
trains the policy alone; the MBP is trained by its own loss (reconstruction,
KL, and the return prediction, whose error is the baseline loss). Every
state (both LSTMs, the memory and the last reads) resets where an episode
starts and travels with the recurrent state between unrolls, so an unroll
that starts mid-episode reads the memory its actor had (`initial_state`).

`unroll` and `step` give `networks.NetworkOutput(policy_params, baseline)`
like the IMPALA network, so the shared acting graph, learner step and
export run it unchanged; `unroll_with_predictions` adds what the MBP loss
needs.
"""

import collections

import numpy as np
import tensorflow as tf

from impala_tf import losses
from impala_tf import networks
from impala_tf.agents import latent
from impala_tf.agents.merlin import memory as memory_lib

MerlinState = collections.namedtuple(
    'MerlinState', ['mbp', 'policy', 'memory', 'mbp_reads', 'policy_reads'])

# What `unroll_with_predictions` returns beside the outputs, each [T, B, ...].
Predictions = collections.namedtuple(
    'Predictions', ['posterior_mean', 'posterior_log_std', 'prior_mean', 'prior_log_std',
                    'observation', 'reward', 'prev_action'])


def _mlp(hidden, output, name):
  return tf.keras.Sequential([tf.keras.layers.Dense(hidden, activation='tanh',
                                                    name=f'{name}_hidden'),
                              tf.keras.layers.Dense(output, name=f'{name}_out')], name=name)


class MerlinNetwork(tf.keras.Model):
  """MERLIN's MBP and policy over one memory per environment."""

  # The shared learner's observation normaliser and per-task features do
  # not apply (the registry refuses them for MERLIN).
  normalizer = None
  needs_task = False
  num_tasks = 1
  use_lstm = True

  def __init__(self, merlin, num_policy_params: int, observation_size: int, num_actions: int,
               action_size: int, torso: str, mlp_hidden_sizes, torso_output_size: int,
               policy_units: int, channels_first: bool, reward_clipping: str,
               initializer: str, name='merlin_network'):
    """
    Args:
      merlin: the run's `MerlinConfig`.
      num_policy_params: the policy head's size (the distribution's).
      observation_size: elements of one observation (the decoder's output).
      num_actions: > 0 for discrete actions (one-hot, a categorical
        decoder); 0 for continuous ones of `action_size` (a Gaussian one).
      torso, mlp_hidden_sizes, torso_output_size, initializer: the encoder,
        one of the shared torsos (`networks.make_torso`).
      policy_units: the policy LSTM's units (the shared `lstm_units`).
      channels_first: observations are [C, H, W] frame stacks.
      reward_clipping: how rewards are clipped for the inputs and the
        reward decoder's target.
    """
    super().__init__(name=name)
    self._merlin = m = merlin
    self._num_actions = num_actions
    self._action_size = num_actions or action_size
    self._channels_first = channels_first
    self._reward_clipping = reward_clipping
    self._observation_size = observation_size
    z = m.latent_size
    self._row = 2 * z
    # softplus⁻¹(β₀ − 1): the offset that makes a read's strength β₀ at x = 0.
    self._strength_offset = float(np.log(np.expm1(m.initial_strength - 1.0)))
    self._torso = networks.make_torso(torso, mlp_hidden_sizes, torso_output_size, initializer)
    self._prior = _mlp(m.hidden_size, 2 * z, 'prior')
    self._posterior = _mlp(m.hidden_size, 2 * z, 'posterior')
    self._mbp_cells = [tf.keras.layers.LSTMCell(m.mbp_units, name=f'mbp_lstm_{i}')
                       for i in range(m.mbp_layers)]
    self._mbp_keys = tf.keras.layers.Dense(m.read_heads * (self._row + 1), name='mbp_keys')
    self._policy_cell = tf.keras.layers.LSTMCell(policy_units, name='policy_lstm')
    self._policy_keys = tf.keras.layers.Dense(m.policy_read_heads * (self._row + 1),
                                              name='policy_keys')
    self._policy_head = tf.keras.layers.Dense(
        num_policy_params, name='policy',
        kernel_initializer=networks.kernel_initializer(initializer, gain=0.01))
    self._observation_decoder = _mlp(m.hidden_size, observation_size, 'observation_decoder')
    self._reward_decoder = _mlp(m.hidden_size, 1, 'reward_decoder')
    self._action_decoder = _mlp(m.hidden_size, self._action_size, 'action_decoder')
    self._return_decoder = _mlp(m.hidden_size, 1, 'return_decoder')
    self._policy_units = policy_units

  # --- state ------------------------------------------------------------------------
  def initial_state(self, batch_size):
    """The state at an episode start: zero LSTMs, an empty memory, no reads."""
    m = self._merlin
    zeros = lambda *shape: tf.zeros([batch_size, *shape], tf.float32)
    return MerlinState(
        mbp=tuple((zeros(m.mbp_units), zeros(m.mbp_units)) for _ in range(m.mbp_layers)),
        policy=(zeros(self._policy_units), zeros(self._policy_units)),
        memory=memory_lib.initial_state(batch_size, m.memory_rows, m.latent_size),
        mbp_reads=zeros(m.read_heads * self._row),
        policy_reads=zeros(m.policy_read_heads * self._row))

  def variable_groups(self):
    """{group: [indices into trainable_variables]}: the MBP's parts, the
    policy's LSTM and reads, and its head."""
    index = {v.ref(): i for i, v in enumerate(self.trainable_variables)}
    parts = {
        'encoder': [self._torso],
        'mbp_core': [self._prior, self._posterior, self._mbp_keys] + self._mbp_cells,
        'decoders': [self._observation_decoder, self._reward_decoder, self._action_decoder],
        'baseline': [self._return_decoder],
        'policy_core': [self._policy_cell, self._policy_keys],
        'policy': [self._policy_head],
    }
    return {name: [index[v.ref()] for layer in layers for v in layer.trainable_variables]
            for name, layers in parts.items()}

  def mbp_variables(self):
    """The MBP's trainable variables (everything but the policy's)."""
    policy = {v.ref() for layer in (self._policy_cell, self._policy_keys, self._policy_head)
              for v in layer.trainable_variables}
    return [v for v in self.trainable_variables if v.ref() not in policy]

  # --- one step -------------------------------------------------------------------
  def _gaussian(self, params):
    mean, log_std = tf.split(params, 2, axis=-1)
    return mean, tf.clip_by_value(log_std, self._merlin.log_std_min, self._merlin.log_std_max)

  def _keys(self, layer, h, heads):
    out = tf.reshape(layer(h), [-1, heads, self._row + 1])
    # β = 1 + softplus(x + offset) ≥ 1, `initial_strength` where x = 0.
    return out[..., :-1], tf.nn.softplus(out[..., -1] + self._strength_offset) + 1.0

  def _step(self, state, elems):
    encoded, not_first, noise = elems
    m = self._merlin
    keep = not_first[:, None]
    first = not_first < 0.5
    mbp = tuple((h * keep, c * keep) for h, c in state.mbp)
    policy = tuple(s * keep for s in state.policy)
    memory = memory_lib.reset(state.memory, first)
    mbp_reads, policy_reads = state.mbp_reads * keep, state.policy_reads * keep

    h_prev = mbp[-1][0]
    prior_mean, prior_log_std = self._gaussian(self._prior(tf.concat([h_prev, mbp_reads], -1)))
    delta_mean, delta_log_std = tf.split(self._posterior(tf.concat(
        [encoded, h_prev, mbp_reads, prior_mean, prior_log_std], -1)), 2, axis=-1)
    post_mean = prior_mean + delta_mean
    post_log_std = tf.clip_by_value(prior_log_std + delta_log_std, m.log_std_min,
                                    m.log_std_max)
    z = latent.sample(post_mean, post_log_std, noise)

    x, new_mbp = tf.concat([z, mbp_reads], -1), []
    for cell, (h, c) in zip(self._mbp_cells, mbp):
      x, (h, c) = cell(x, [h, c])
      new_mbp.append((h, c))
    keys, strengths = self._keys(self._mbp_keys, x, m.read_heads)
    reads, read_weights = memory_lib.read(memory.memory, keys, strengths)
    mbp_reads = tf.reshape(reads, [-1, m.read_heads * self._row])

    # The policy: the MBP's latent and memory behind stop-gradients.
    policy_in = tf.stop_gradient(tf.concat([z, policy_reads], -1))
    h_pi, policy = self._policy_cell(policy_in, list(policy))
    keys, strengths = self._keys(self._policy_keys, h_pi, m.policy_read_heads)
    reads, _ = memory_lib.read(tf.stop_gradient(memory.memory), keys, strengths)
    policy_reads = tf.reshape(reads, [-1, m.policy_read_heads * self._row])

    memory = memory_lib.write(memory, z, read_weights, m.retroactive_decay)
    new_state = MerlinState(tuple(new_mbp), tuple(policy), memory, mbp_reads, policy_reads)
    step_out = (z, post_mean, post_log_std, prior_mean, prior_log_std, h_pi, policy_reads)
    return new_state, step_out

  # --- over time ------------------------------------------------------------------
  def _encode(self, inputs):
    features = networks.embed_sequence(self._torso, None, self._channels_first,
                                       inputs.observation)
    not_first = 1.0 - tf.cast(inputs.first, tf.float32)
    prev_action = self._prev_action(inputs.prev_action)
    prev_reward = losses.clip_rewards(tf.cast(inputs.prev_reward, tf.float32),
                                      self._reward_clipping)[..., None]
    return tf.concat([features, prev_action * not_first[..., None],
                      prev_reward * not_first[..., None]], -1), not_first

  def _prev_action(self, prev_action):
    if self._num_actions:
      return tf.one_hot(tf.cast(prev_action, tf.int32), self._num_actions)
    return tf.cast(prev_action, tf.float32)

  def unroll_with_predictions(self, inputs: networks.NetworkInput, core_state,
                              sample: bool = True):
    """Runs MBP and policy over time-major inputs [T, B, ...].

    Args:
      inputs: `networks.NetworkInput` [T, B, ...].
      core_state: a `MerlinState` of [B, ...] (`initial_state`, or the one an
        actor recorded at the unroll's first step).
      sample: draw z_t from the posterior; False takes its mean (a
        deterministic policy, as the export's greedy one).

    Returns:
      (NetworkOutput(policy_params [T, B, P], baseline [T, B]),
       Predictions [T, B, ...], final MerlinState).
    """
    encoded, not_first = self._encode(inputs)
    shape = tf.shape(not_first)
    z_size = self._merlin.latent_size
    noise = (tf.random.normal(tf.concat([shape, [z_size]], 0)) if sample
             else tf.zeros(tf.concat([shape, [z_size]], 0)))
    core_state = MerlinState(*core_state)
    core_state = core_state._replace(memory=memory_lib.MemoryState(*core_state.memory))
    # Keras builds each layer on its first call; inside tf.scan that call
    # would happen in a loop body, so build the step once outside it.
    if not self._policy_head.built:
      self._step(core_state, (encoded[0], not_first[0], noise[0]))
      self._heads(*[tf.zeros([1, 1, d]) for d in (z_size, self._policy_units,
                                                  self._merlin.policy_read_heads * self._row)])

    def scan_fn(carry, elems):
      state, _ = carry
      return self._step(state, elems)

    initial_out = self._step_outputs_like(shape[1])
    states, outs = tf.scan(scan_fn, (encoded, not_first, noise),
                           initializer=(core_state, initial_out))
    final = tf.nest.map_structure(lambda s: s[-1], states)
    z, post_mean, post_log_std, prior_mean, prior_log_std, h_pi, policy_reads = outs
    policy_params, baseline, decoded = self._heads(z, h_pi, policy_reads)
    predictions = Predictions(post_mean, post_log_std, prior_mean, prior_log_std, *decoded)
    return networks.NetworkOutput(policy_params, baseline), predictions, final

  def _step_outputs_like(self, batch):
    z = tf.zeros([batch, self._merlin.latent_size])
    return (z, z, z, z, z, tf.zeros([batch, self._policy_units]),
            tf.zeros([batch, self._merlin.policy_read_heads * self._row]))

  def _heads(self, z, h_pi, policy_reads):
    policy_params = self._policy_head(tf.concat([h_pi, policy_reads], -1))
    # The value is the MBP's return prediction from z_t and the policy it
    # predicts the return of (behind a stop-gradient: the value's error
    # trains the MBP, never the policy).
    baseline = tf.squeeze(self._return_decoder(
        tf.concat([z, tf.stop_gradient(tf.nn.softmax(policy_params) if self._num_actions
                                       else policy_params)], -1)), -1)
    decoded = (self._observation_decoder(z), tf.squeeze(self._reward_decoder(z), -1),
               self._action_decoder(z))
    return policy_params, baseline, decoded

  def unroll(self, inputs: networks.NetworkInput, core_state, task=None, sample=True):
    """(NetworkOutput [T, B, ...], final state), as `ImpalaNetwork.unroll`."""
    del task
    outputs, _, final = self.unroll_with_predictions(inputs, core_state, sample)
    return outputs, final

  def step(self, inputs: networks.NetworkInput, core_state, task=None):
    """One acting step on [B, ...] inputs, z_t sampled as in training (the
    export acts on the mean instead: `latent.MeanLatent`)."""
    del task
    expanded = tf.nest.map_structure(lambda x: tf.expand_dims(x, 0), inputs)
    outputs, state = self.unroll(expanded, core_state)
    return tf.nest.map_structure(lambda x: x[0], outputs), state

  def call(self, inputs, core_state):
    return self.unroll(inputs, core_state)

  # --- the MBP loss -----------------------------------------------------------------
  def mbp_losses(self, inputs: networks.NetworkInput, predictions: Predictions, mask):
    """The MBP's loss terms, each summed over the steps `mask` [T, B] keeps:
    {'mbp_observation', 'mbp_reward', 'mbp_action', 'mbp_kl'}, unweighted
    (`MerlinConfig` holds the weights).

    Reconstructions are negative log-likelihoods up to constants: unit
    Gaussians for the observation, the reward and continuous actions
    (½ squared error), a categorical for a discrete previous action; the
    previous action and reward are not reconstructed at an episode's first
    step, where they are zeros of no meaning.
    """
    observation = tf.cast(inputs.observation, tf.float32) * networks.observation_scale(
        inputs.observation.dtype)
    observation = tf.reshape(observation, tf.concat([tf.shape(mask), [-1]], 0))
    not_first = mask * (1.0 - tf.cast(inputs.first, tf.float32))
    reward = losses.clip_rewards(tf.cast(inputs.prev_reward, tf.float32),
                                 self._reward_clipping)
    if self._num_actions:
      action_nll = tf.nn.sparse_softmax_cross_entropy_with_logits(
          labels=tf.cast(inputs.prev_action, tf.int32), logits=predictions.prev_action)
    else:
      action_nll = 0.5 * tf.reduce_sum(tf.square(
          predictions.prev_action - tf.cast(inputs.prev_action, tf.float32)), -1)
    kl = latent.kl_divergence(predictions.posterior_mean, predictions.posterior_log_std,
                              predictions.prior_mean, predictions.prior_log_std)
    return {
        'mbp_observation': tf.reduce_sum(
            0.5 * tf.reduce_sum(tf.square(predictions.observation - observation), -1) * mask),
        'mbp_reward': tf.reduce_sum(0.5 * tf.square(predictions.reward - reward) * not_first),
        'mbp_action': tf.reduce_sum(action_nll * not_first),
        'mbp_kl': tf.reduce_sum(kl * mask),
    }


def make_network(config, env_spec, build: bool = True):
  """The MERLIN network of `config` for `env_spec` (variables made now
  unless `build` is False: an actor's graph makes them itself)."""
  dist = env_spec.distribution
  num_actions = getattr(dist, 'num_actions', 0)
  size = 1
  for d in env_spec.observation_shape:
    size *= int(d)
  network = MerlinNetwork(
      config.merlin, dist.num_params, size, num_actions,
      action_size=int(sum(dist.action_shape)) if not num_actions else 0,
      torso=config.torso, mlp_hidden_sizes=config.mlp_hidden_sizes,
      torso_output_size=config.torso_output_size, policy_units=config.lstm_units,
      channels_first=env_spec.channels_first, reward_clipping=config.reward_clipping,
      initializer=config.initializer)
  if build:
    dummy = networks.NetworkInput(
        observation=tf.zeros([1, 1, *env_spec.observation_shape], tf.float32),
        first=tf.ones([1, 1], tf.bool),
        prev_action=tf.zeros([1, 1, *dist.action_shape], dist.action_dtype),
        prev_reward=tf.zeros([1, 1], tf.float32))
    network.unroll(dummy, network.initial_state(1))
  return network
