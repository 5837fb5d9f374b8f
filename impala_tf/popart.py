"""PopArt: adaptive normalisation of value targets, one statistic per task.

Hessel et al. 2019, "Multi-task Deep Reinforcement Learning with PopArt"
(arXiv:1809.04474), after van Hasselt et al. 2016 ("Learning values across
many orders of magnitude"). For each task k the learner keeps running first
and second moments μ_k, ν_k of the value targets and σ_k = sqrt(ν_k − μ_k²):

  * the value head outputs normalised values n_k(s); V_k(s) = σ_k n_k(s) + μ_k;
  * V-trace runs on unnormalised values and rewards; the baseline loss
    regresses n_k(s) on the normalised target (v_s − μ_k) / σ_k, and the
    policy-gradient advantage is divided by σ_k, so every task's gradients
    have the same scale whatever its rewards;
  * when the statistics move (μ, σ → μ', σ'), the head's last linear layer is
    rescaled so that V_k(s) is unchanged for every s ("preserving outputs
    precisely"): w' = (σ/σ') w and b' = (σ b + μ − μ') / σ'.

The functions here are pure (tensors in, tensors out) and tested each on
its own; `PopArt` holds the statistics as variables for the learner.
"""

import tensorflow as tf


def scale(mu, nu, sigma_min, sigma_max):
  """σ = sqrt(ν − μ²), clipped to [sigma_min, sigma_max]; same shape as μ."""
  return tf.clip_by_value(tf.sqrt(tf.maximum(nu - tf.square(mu), 0.0)), sigma_min, sigma_max)


def normalize(values, mu, sigma):
  """(values − μ) / σ, broadcasting μ and σ over leading dimensions."""
  return (values - mu) / sigma


def unnormalize(normalized, mu, sigma):
  """σ · normalized + μ."""
  return sigma * normalized + mu


def update_moments(mu, nu, count, total, total_squares, step_size):
  """One step of the moments' exponential moving averages, per task.

  Args:
    mu, nu: float [K], the current first and second moments.
    count: float [K], number of targets of each task in the batch.
    total, total_squares: float [K], their sums and sums of squares.
    step_size: β in (0, 1]: μ ← (1 − β) μ + β · mean of the task's targets
      (the batch mean, so the step does not depend on the batch size).

  Returns:
    (mu, nu) after the step; tasks absent from the batch keep theirs.
  """
  present = count > 0
  safe = tf.maximum(count, 1.0)
  mu_new = (1.0 - step_size) * mu + step_size * total / safe
  nu_new = (1.0 - step_size) * nu + step_size * total_squares / safe
  return tf.where(present, mu_new, mu), tf.where(present, nu_new, nu)


def preserve_outputs(kernel, bias, mu, sigma, new_mu, new_sigma):
  """The last linear layer's weights for which σ'·n' + μ' equals σ·n + μ.

  Args:
    kernel: float [D, K], bias: float [K]: the layer n(h) = h·kernel + bias.
    mu, sigma: float [K], the statistics the layer was trained under.
    new_mu, new_sigma: float [K], the new statistics.

  Returns:
    (kernel', bias').
  """
  ratio = sigma / new_sigma
  return kernel * ratio, (sigma * bias + mu - new_mu) / new_sigma


class PopArt(tf.Module):
  """The per-task statistics (checkpointed variables) and their update."""

  def __init__(self, num_tasks: int, step_size: float, sigma_min: float, sigma_max: float):
    super().__init__(name='popart')
    self.num_tasks = num_tasks
    self.step_size = float(step_size)
    self.sigma_min = float(sigma_min)
    self.sigma_max = float(sigma_max)
    # μ = 0, ν = 1: σ = 1, the identity until targets arrive.
    self.mu = tf.Variable(tf.zeros([num_tasks]), trainable=False, name='mu')
    self.nu = tf.Variable(tf.ones([num_tasks]), trainable=False, name='nu')

  @property
  def sigma(self):
    return scale(self.mu, self.nu, self.sigma_min, self.sigma_max)

  def update(self, count, total, total_squares, kernel, bias):
    """Moves the statistics by one step and rescales the value head's last
    layer (`kernel` [D, K], `bias` [K] variables) to preserve its outputs.

    Call it in cross-replica context with the global batch's sums: every
    replica then holds the same statistics and the same layer.
    """
    mu, sigma = tf.identity(self.mu), self.sigma
    new_mu, new_nu = update_moments(self.mu, self.nu, count, total, total_squares,
                                    self.step_size)
    new_sigma = scale(new_mu, new_nu, self.sigma_min, self.sigma_max)
    new_kernel, new_bias = preserve_outputs(kernel, bias, mu, sigma, new_mu, new_sigma)
    kernel.assign(new_kernel)
    bias.assign(new_bias)
    self.mu.assign(new_mu)
    self.nu.assign(new_nu)
