"""FTW's two-timescale recurrent agent (Jaderberg et al. 2019, Fig. 2).

Per step t, for each player:

  encoder   e_t = [torso(o_t), a_{t−1} (one-hot), clipped r_{t−1}]
  slow core h^s_t = LSTM_s(g(h^f_{t−1})) at the episode's steps 0, τ, 2τ, ...;
            h^s_t = h^s_{t−1} between ticks. g passes the fast state forward
            whole and its gradient back scaled by `fast_to_slow_gradient_scale`.
  prior     p(z_t) = N(μ_p, σ_p) from h^s_t
  fast core h^f_t = LSTM_f([e_t, h^s_t, μ_p, log σ_p])
  posterior q(z_t) = N(μ_q, σ_q) from [h^f_t, μ_p, log σ_p]
  latent    z_t ~ q (reparameterised; the posterior's mean when not sampling)
  heads     π_t from z_t; the value from [z_t, h^f_t]

The reward it learns from is internal: the game points weighted by
`event_weights` (`internal_reward`). The loss adds `kl_cost` × KL(q ‖ p) and `prior_cost` × KL(p ‖ N(0, I)) to
the IMPALA loss (`auxiliary_losses`). τ (`slow_period`) is a non-trainable
variable of the network, so PBT can set it and actors receive it with the
weights; the state counts each player's steps since its episode began, so
the slow core's ticks do not depend on where unrolls start. The Gaussians
are MERLIN's (`agents.latent`, shared by both).

`unroll` and `step` give `networks.NetworkOutput(policy_params, baseline)`
like the IMPALA network; `unroll_with_latents` adds what the loss needs.
"""

import collections

import tensorflow as tf

from impala_tf import losses
from impala_tf import networks
from impala_tf.agents import latent

FtwState = collections.namedtuple('FtwState', ['slow', 'fast', 'steps'])

# What `unroll_with_latents` returns beside the outputs, each [T, B, ...].
Latents = collections.namedtuple(
    'Latents', ['posterior_mean', 'posterior_log_std', 'prior_mean', 'prior_log_std',
                'slow_hidden', 'ticked'])


def scale_gradient(x, scale):
  """x forward; `scale` × the gradient backward."""
  return scale * x + tf.stop_gradient((1.0 - scale) * x)


def _mlp(hidden, output, name):
  return tf.keras.Sequential([tf.keras.layers.Dense(hidden, activation='tanh',
                                                    name=f'{name}_hidden'),
                              tf.keras.layers.Dense(output, name=f'{name}_out')], name=name)


class FtwNetwork(tf.keras.Model):
  """The fast and slow cores, the latent and the heads."""

  normalizer = None
  needs_task = False
  num_tasks = 1
  use_lstm = True

  def __init__(self, ftw, num_policy_params: int, num_actions: int, action_size: int,
               torso: str, mlp_hidden_sizes, torso_output_size: int, channels_first: bool,
               reward_clipping: str, initializer: str, name='ftw_network'):
    """
    Args:
      ftw: the run's `FtwConfig`.
      num_policy_params: the policy head's size (the distribution's).
      num_actions: > 0 for discrete actions (one-hot inputs); 0 for
        continuous ones of `action_size`.
      torso, mlp_hidden_sizes, torso_output_size, initializer: the encoder,
        one of the shared torsos (`networks.make_torso`).
      channels_first: observations are [C, H, W] frame stacks.
      reward_clipping: how the previous reward is clipped as an input.
    """
    super().__init__(name=name)
    self._ftw = f = ftw
    self._num_actions = num_actions
    self._action_size = num_actions or action_size
    self._channels_first = channels_first
    self._reward_clipping = reward_clipping
    self._torso = networks.make_torso(torso, mlp_hidden_sizes, torso_output_size, initializer)
    self._slow_cell = tf.keras.layers.LSTMCell(f.slow_units, name='slow_lstm')
    self._fast_cell = tf.keras.layers.LSTMCell(f.fast_units, name='fast_lstm')
    self._prior = _mlp(f.hidden_size, 2 * f.latent_size, 'prior')
    self._posterior = _mlp(f.hidden_size, 2 * f.latent_size, 'posterior')
    self._policy_head = tf.keras.layers.Dense(
        num_policy_params, name='policy',
        kernel_initializer=networks.kernel_initializer(initializer, gain=0.01))
    self._baseline_head = tf.keras.layers.Dense(1, name='baseline')
    # PBT's hyperparameters that act inside the network: published with the
    # weights, so actors tick and scale as the learner does.
    self.slow_period = tf.Variable(float(f.slow_period), trainable=False, name='slow_period')
    self.fast_to_slow_gradient_scale = tf.Variable(
        float(f.fast_to_slow_gradient_scale), trainable=False,
        name='fast_to_slow_gradient_scale')
    # The internal reward's weights (`internal_reward`): PBT's, not the
    # gradient's; the actors read them with the weights.
    self.event_weights = tf.Variable(tf.constant(f.event_weights, tf.float32),
                                     trainable=False, name='event_weights')

  def internal_reward(self, events):
    """[..., len(EVENTS)] game-point counts -> [...] internal rewards: the
    points weighted by `event_weights`, what the agent maximises."""
    return tf.linalg.matvec(tf.cast(events, tf.float32), self.event_weights)

  def variable_groups(self):
    """{group: [indices into trainable_variables]}: the encoder, each core
    with the Gaussian it gives, and the heads."""
    index = {v.ref(): i for i, v in enumerate(self.trainable_variables)}
    parts = {
        'encoder': [self._torso],
        'slow_core': [self._slow_cell, self._prior],
        'fast_core': [self._fast_cell, self._posterior],
        'policy': [self._policy_head],
        'baseline': [self._baseline_head],
    }
    return {name: [index[v.ref()] for layer in layers for v in layer.trainable_variables]
            for name, layers in parts.items()}

  def initial_state(self, batch_size):
    """Zero cores and step counts: the state at an episode's start."""
    zeros = lambda n: tf.zeros([batch_size, n], tf.float32)
    f = self._ftw
    return FtwState(slow=(zeros(f.slow_units), zeros(f.slow_units)),
                    fast=(zeros(f.fast_units), zeros(f.fast_units)),
                    steps=tf.zeros([batch_size], tf.float32))

  def _gaussian(self, params):
    mean, log_std = tf.split(params, 2, axis=-1)
    return mean, tf.clip_by_value(log_std, self._ftw.log_std_min, self._ftw.log_std_max)

  def _step(self, state, elems):
    encoded, not_first, noise = elems
    keep = not_first[:, None]
    slow = tuple(s * keep for s in state.slow)
    fast = tuple(s * keep for s in state.fast)
    steps = state.steps * not_first
    period = tf.maximum(tf.round(self.slow_period), 1.0)
    ticked = tf.equal(tf.math.floormod(steps, period), 0.0)

    slow_in = scale_gradient(fast[0], self.fast_to_slow_gradient_scale)
    _, (slow_h, slow_c) = self._slow_cell(slow_in, list(slow))
    tick = ticked[:, None]
    slow = (tf.where(tick, slow_h, slow[0]), tf.where(tick, slow_c, slow[1]))

    prior_mean, prior_log_std = self._gaussian(self._prior(slow[0]))
    fast_h, (fast_h, fast_c) = self._fast_cell(
        tf.concat([encoded, slow[0], prior_mean, prior_log_std], -1), list(fast))
    post_mean, post_log_std = self._gaussian(self._posterior(
        tf.concat([fast_h, prior_mean, prior_log_std], -1)))
    z = latent.sample(post_mean, post_log_std, noise)
    new_state = FtwState(slow=slow, fast=(fast_h, fast_c), steps=steps + 1.0)
    out = (z, fast_h, post_mean, post_log_std, prior_mean, prior_log_std, slow[0],
           tf.cast(ticked, tf.float32))
    return new_state, out

  def _encode(self, inputs):
    features = networks.embed_sequence(self._torso, None, self._channels_first,
                                       inputs.observation)
    not_first = 1.0 - tf.cast(inputs.first, tf.float32)
    if self._num_actions:
      prev_action = tf.one_hot(tf.cast(inputs.prev_action, tf.int32), self._num_actions)
    else:
      prev_action = tf.cast(inputs.prev_action, tf.float32)
    prev_reward = losses.clip_rewards(tf.cast(inputs.prev_reward, tf.float32),
                                      self._reward_clipping)[..., None]
    return tf.concat([features, prev_action * not_first[..., None],
                      prev_reward * not_first[..., None]], -1), not_first

  def unroll_with_latents(self, inputs: networks.NetworkInput, core_state,
                          sample: bool = True):
    """Runs both cores over time-major inputs [T, B, ...].

    Returns (NetworkOutput [T, B, ...], Latents [T, B, ...], final FtwState).
    """
    encoded, not_first = self._encode(inputs)
    shape = tf.shape(not_first)
    z_size = self._ftw.latent_size
    noise_shape = tf.concat([shape, [z_size]], 0)
    noise = tf.random.normal(noise_shape) if sample else tf.zeros(noise_shape)
    core_state = FtwState(*core_state)
    if not self._policy_head.built:
      # Build every layer outside tf.scan's loop body.
      self._step(core_state, (encoded[0], not_first[0], noise[0]))
      self._heads(tf.zeros([1, 1, z_size]), tf.zeros([1, 1, self._ftw.fast_units]))
    batch = shape[1]
    zeros = lambda n: tf.zeros([batch, n])
    initial_out = (zeros(z_size), zeros(self._ftw.fast_units), zeros(z_size), zeros(z_size),
                   zeros(z_size), zeros(z_size), zeros(self._ftw.slow_units), tf.zeros([batch]))
    states, outs = tf.scan(lambda carry, elems: self._step(carry[0], elems),
                           (encoded, not_first, noise), initializer=(core_state, initial_out))
    final = tf.nest.map_structure(lambda s: s[-1], states)
    z, fast_h, post_mean, post_log_std, prior_mean, prior_log_std, slow_h, ticked = outs
    policy_params, baseline = self._heads(z, fast_h)
    return (networks.NetworkOutput(policy_params, baseline),
            Latents(post_mean, post_log_std, prior_mean, prior_log_std, slow_h, ticked), final)

  def _heads(self, z, fast_h):
    policy_params = self._policy_head(z)
    baseline = tf.squeeze(self._baseline_head(tf.concat([z, fast_h], -1)), -1)
    return policy_params, baseline

  def unroll(self, inputs: networks.NetworkInput, core_state, task=None, sample=True):
    """(NetworkOutput [T, B, ...], final state), as `ImpalaNetwork.unroll`."""
    del task
    outputs, _, final = self.unroll_with_latents(inputs, core_state, sample)
    return outputs, final

  def step(self, inputs: networks.NetworkInput, core_state, task=None):
    """One acting step on [B, ...] inputs, z_t sampled as in training."""
    del task
    expanded = tf.nest.map_structure(lambda x: tf.expand_dims(x, 0), inputs)
    outputs, state = self.unroll(expanded, core_state)
    return tf.nest.map_structure(lambda x: x[0], outputs), state

  def call(self, inputs, core_state):
    return self.unroll(inputs, core_state)

  def auxiliary_losses(self, latents: Latents, mask):
    """{'ftw_kl': KL(q ‖ p), 'ftw_prior': KL(p ‖ N(0, I))}, each summed over
    the steps `mask` [T, B] keeps, unweighted (`FtwConfig` holds the
    weights)."""
    kl = latent.kl_divergence(latents.posterior_mean, latents.posterior_log_std,
                              latents.prior_mean, latents.prior_log_std)
    zeros = tf.zeros_like(latents.prior_mean)
    prior = latent.kl_divergence(latents.prior_mean, latents.prior_log_std, zeros, zeros)
    return {'ftw_kl': tf.reduce_sum(kl * mask), 'ftw_prior': tf.reduce_sum(prior * mask)}


def make_network(config, env_spec, build: bool = True):
  """The FTW network of `config` for `env_spec` (variables made now unless
  `build` is False: an actor's graph makes them itself)."""
  dist = env_spec.distribution
  num_actions = getattr(dist, 'num_actions', 0)
  network = FtwNetwork(
      config.ftw, dist.num_params, num_actions,
      action_size=int(sum(dist.action_shape)) if not num_actions else 0,
      torso=config.torso, mlp_hidden_sizes=config.mlp_hidden_sizes,
      torso_output_size=config.torso_output_size, channels_first=env_spec.channels_first,
      reward_clipping=config.reward_clipping, initializer=config.initializer)
  if build:
    dummy = networks.NetworkInput(
        observation=tf.zeros([1, 1, *env_spec.observation_shape], env_spec.observation_dtype),
        first=tf.ones([1, 1], tf.bool),
        prev_action=tf.zeros([1, 1, *dist.action_shape], dist.action_dtype),
        prev_reward=tf.zeros([1, 1], tf.float32))
    network.unroll(dummy, network.initial_state(1))
  return network
