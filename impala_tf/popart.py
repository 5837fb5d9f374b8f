"""PopArt: adaptive normalisation of value targets, one statistic per task.

Hessel et al. 2019, "Multi-task Deep Reinforcement Learning with PopArt"
(arXiv:1809.04474), after van Hasselt et al. 2016 ("Learning values across
many orders of magnitude"). For each task k the learner keeps a running
mean μ_k and variance σ_k² of the value targets:

  * the value head outputs normalised values n_k(s); V_k(s) = σ_k n_k(s) + μ_k;
  * V-trace runs on unnormalised values and rewards; the baseline loss
    regresses n_k(s) on the normalised target (v_s − μ_k) / σ_k, and the
    policy-gradient advantage is divided by σ_k, so every task's gradients
    have the same scale whatever its rewards;
  * when the statistics move (μ, σ → μ', σ'), the head's last linear layer is
    rescaled so that V_k(s) is unchanged for every s ("preserving outputs
    precisely"): w' = (σ/σ') w and b' = (σ b + μ − μ') / σ'.

The step size β is per target, as in the papers: each target moves the
averages by β. A batch holding n targets of a task moves them as n such
steps would, by β_n = 1 − (1 − β)^n towards the batch's moments, so the
statistics' time constant is 1/β targets whatever the batch size (with
β = 3e-4, about 3,300 targets; 5 batches of 32 × 20).

The variance is tracked directly (mean and variance of a mixture), never as
ν − μ²: in float32 that difference loses σ entirely once σ/|μ| ≲ 2e-4.

The functions here are pure (tensors in, tensors out) and tested each on
its own; `PopArt` holds the statistics as variables for the learner.
"""

import tensorflow as tf


def scale(variance, sigma_min, sigma_max):
  """σ = sqrt(variance), clipped to [sigma_min, sigma_max]."""
  return tf.clip_by_value(tf.sqrt(tf.maximum(variance, 0.0)), sigma_min, sigma_max)


def normalize(values, mu, sigma):
  """(values − μ) / σ, broadcasting μ and σ over leading dimensions."""
  return (values - mu) / sigma


def unnormalize(normalized, mu, sigma):
  """σ · normalized + μ."""
  return sigma * normalized + mu


def combine_moments(a, b):
  """The (count, mean, sum of squared deviations) of two sets of values
  together, from each set's (Chan et al.'s parallel update, no cancellation).

  Args:
    a, b: tuples (count [K], mean [K], m2 [K]) of float tensors.
  """
  count_a, mean_a, m2_a = a
  count_b, mean_b, m2_b = b
  count = count_a + count_b
  safe = tf.maximum(count, 1.0)
  delta = mean_b - mean_a
  mean = mean_a + delta * count_b / safe
  m2 = m2_a + m2_b + tf.square(delta) * count_a * count_b / safe
  return count, mean, m2


def update_moments(mu, variance, count, batch_mean, batch_m2, step_size):
  """The statistics after a batch's targets, per task.

  Args:
    mu, variance: float [K], the current mean and variance.
    count: float [K], number of targets of each task in the batch.
    batch_mean, batch_m2: float [K], their mean and sum of squared
      deviations from it.
    step_size: β in (0, 1], per target: the batch moves the statistics
      β_n = 1 − (1 − β)^n of the way to its own moments, as n targets one
      at a time would.

  Returns:
    (mu, variance) after the step; tasks absent from the batch keep theirs.
  """
  present = count > 0
  beta = -tf.math.expm1(count * tf.math.log1p(-tf.cast(step_size, count.dtype)))
  batch_variance = batch_m2 / tf.maximum(count, 1.0)
  delta = batch_mean - mu
  # The mixture (1 − β)·old + β·batch: its mean and its variance.
  mu_new = mu + beta * delta
  variance_new = (1.0 - beta) * (variance + beta * tf.square(delta)) + beta * batch_variance
  return tf.where(present, mu_new, mu), tf.where(present, variance_new, variance)


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
    # μ = 0, σ² = 1: the identity until targets arrive.
    self.mu = tf.Variable(tf.zeros([num_tasks]), trainable=False, name='mu')
    self.variance = tf.Variable(tf.ones([num_tasks]), trainable=False, name='variance')
    # Targets each task's statistics have taken in (diagnostic: each counts once).
    self.targets = tf.Variable(tf.zeros([num_tasks], tf.int64), trainable=False, name='targets')

  @property
  def sigma(self):
    return scale(self.variance, self.sigma_min, self.sigma_max)

  def update(self, count, batch_mean, batch_m2, kernel, bias):
    """Moves the statistics by one batch's targets and rescales the value
    head's last layer (`kernel` [D, K], `bias` [K] variables) to preserve
    its outputs.

    Call it in cross-replica context with the global batch's moments
    (count, mean, sum of squared deviations per task): every replica then
    holds the same statistics and the same layer.
    """
    mu, sigma = tf.identity(self.mu), self.sigma
    new_mu, new_variance = update_moments(self.mu, self.variance, count, batch_mean, batch_m2,
                                          self.step_size)
    new_sigma = scale(new_variance, self.sigma_min, self.sigma_max)
    new_kernel, new_bias = preserve_outputs(kernel, bias, mu, sigma, new_mu, new_sigma)
    kernel.assign(new_kernel)
    bias.assign(new_bias)
    self.mu.assign(new_mu)
    self.variance.assign(new_variance)
    self.targets.assign_add(tf.cast(count, tf.int64))
