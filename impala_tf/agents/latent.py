"""The Gaussian latent that MERLIN (Wayne et al. 2018, Methods, "Prior" and
"Posterior") and FTW (Jaderberg et al. 2019) infer at every step: diagonal
Gaussians over z_t as pure functions, and `MeanLatent`, a network acting on
its posterior's mean (their deterministic greedy export).

A Gaussian is given by its mean and log standard deviation, each float32
[..., Z]; the functions reduce over the last axis only.
"""

import math

import tensorflow as tf


def sample(mean, log_std, noise):
  """z = mean + exp(log_std) · noise: the reparameterised sample, through
  which the gradient reaches the mean and the scale. `noise` ~ N(0, I)."""
  return mean + tf.exp(log_std) * noise


def kl_divergence(q_mean, q_log_std, p_mean, p_log_std):
  """KL(q ‖ p) of two diagonal Gaussians, summed over the last axis.

  Σ_d [log σ_p − log σ_q + (σ_q² + (μ_q − μ_p)²) / (2 σ_p²) − 1/2].
  """
  q_var = tf.exp(2.0 * q_log_std)
  p_var = tf.exp(2.0 * p_log_std)
  terms = (p_log_std - q_log_std + (q_var + tf.square(q_mean - p_mean)) / (2.0 * p_var)
           - 0.5)
  return tf.reduce_sum(terms, axis=-1)


def log_density(x, mean, log_std):
  """log N(x; mean, diag(exp(log_std)²)), summed over the last axis."""
  z = (x - mean) * tf.exp(-log_std)
  return tf.reduce_sum(-0.5 * tf.square(z) - log_std - 0.5 * math.log(2.0 * math.pi),
                       axis=-1)


class MeanLatent(tf.Module):
  """A network with a sampled latent (MERLIN's, FTW's: any whose `unroll`
  takes `sample`) acting on its posterior's mean instead of a sample: what
  the export wraps, so its greedy policy is deterministic (the same
  variables; `step` and `initial_state` as the network's)."""

  needs_task = False

  def __init__(self, network):
    super().__init__(name='mean_latent')
    self.network = network

  def initial_state(self, batch_size):
    return self.network.initial_state(batch_size)

  def step(self, inputs, core_state, task=None):
    """One step on [B, ...] `networks.NetworkInput`, on the mean latent."""
    del task
    expanded = tf.nest.map_structure(lambda x: tf.expand_dims(x, 0), inputs)
    outputs, state = self.network.unroll(expanded, core_state, sample=False)
    return tf.nest.map_structure(lambda x: x[0], outputs), state
