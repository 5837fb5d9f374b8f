"""PopArt's pure functions and statistics, against numpy."""

import numpy as np
import tensorflow as tf

from impala_tf import popart


def _per_target_reference(mu, nu, targets, beta):
  """The published update, one target at a time, in float64 (first and
  second moments; exact in float64 at these scales)."""
  mu, nu = float(mu), float(nu)
  for x in targets:
    mu = (1 - beta) * mu + beta * x
    nu = (1 - beta) * nu + beta * x * x
  return mu, nu - mu * mu


def _batch_update(mu, variance, batch, beta):
  x = np.asarray(batch, np.float32)
  count = np.array([len(x)], np.float32)
  mean = np.array([x.mean()], np.float32)
  m2 = np.array([((x - mean[0]) ** 2).sum()], np.float32)
  mu, variance = popart.update_moments(tf.constant([mu], tf.float32),
                                       tf.constant([variance], tf.float32),
                                       count, mean, m2, beta)
  return float(mu[0]), float(variance[0])


class PopArtFunctionsTest(tf.test.TestCase):

  def test_outputs_preserved_under_arbitrary_changes(self):
    rng = np.random.default_rng(0)
    d, k = 7, 3
    h = tf.constant(rng.normal(size=(20, d)), tf.float32)
    kernel = tf.constant(rng.normal(size=(d, k)), tf.float32)
    bias = tf.constant(rng.normal(size=k), tf.float32)
    for _ in range(20):
      mu, new_mu = tf.unstack(tf.constant(rng.normal(0, 100, size=(2, k)), tf.float32))
      sigma, new_sigma = tf.unstack(tf.constant(np.exp(rng.uniform(-5, 8, size=(2, k))),
                                                tf.float32))
      before = popart.unnormalize(h @ kernel + bias, mu, sigma).numpy()
      new_kernel, new_bias = popart.preserve_outputs(kernel, bias, mu, sigma, new_mu, new_sigma)
      after = popart.unnormalize(h @ new_kernel + new_bias, new_mu, new_sigma).numpy()
      # Exact up to float32 rounding at the scale of the values.
      self.assertAllClose(before, after, rtol=1e-5, atol=1e-5 * np.abs(before).max())

  def test_a_batch_of_one_is_one_published_step(self):
    for mu, var, x, beta in ((0.0, 1.0, 5.0, 3e-4), (100.0, 4.0, -30.0, 0.1)):
      self.assertAllClose(_per_target_reference(mu, var + mu * mu, [x], beta),
                          _batch_update(mu, var, [x], beta), rtol=1e-5)

  def test_a_batch_moves_the_statistics_as_its_targets_one_by_one(self):
    # n equal targets: the batch step is exactly n per-target steps.
    beta = 3e-4
    ref = _per_target_reference(2.0, 1.0 + 4.0, [40.0] * 640, beta)
    self.assertAllClose(ref, _batch_update(2.0, 1.0, [40.0] * 640, beta), rtol=1e-4)
    # A stream of varied targets, fed one by one or in batches of 64 or
    # 640: the statistics after 20,000 targets agree (the time constant is
    # 1/β targets whatever the batch size), and the mean has moved
    # 1 − (1 − β)^20000 ≈ 0.998 of the way.
    rng = np.random.default_rng(1)
    stream = rng.normal(50.0, 10.0, size=19_200)
    per_target = _per_target_reference(0.0, 1.0, stream, beta)
    for size in (64, 640):
      mu, var = 0.0, 1.0
      for start in range(0, len(stream), size):
        mu, var = _batch_update(mu, var, stream[start:start + size], beta)
      self.assertAllClose(per_target[0], mu, rtol=0.01)
      self.assertAllClose(np.sqrt(per_target[1]), np.sqrt(var), rtol=0.05)

  def test_sigma_is_not_lost_when_the_mean_is_large(self):
    # σ/|μ| = 1e-5: ν − μ² in float32 would be pure rounding (σ → sigma_min).
    rng = np.random.default_rng(2)
    mu, var = tf.constant([1e5]), tf.constant([1.0])
    for _ in range(200):
      x = (1e5 + rng.normal(0.0, 1.0, size=256)).astype(np.float32)
      count = tf.constant([256.0])
      mean = tf.constant([x.astype(np.float64).mean()], tf.float32)
      m2 = tf.constant([((x - mean.numpy()[0]) ** 2).sum()], tf.float32)
      mu, var = popart.update_moments(mu, var, count, mean, m2, 3e-4)
    self.assertAllClose([1.0], popart.scale(var, 1e-4, 1e6), rtol=0.1)

  def test_combined_moments_equal_those_of_the_union(self):
    rng = np.random.default_rng(3)
    a, b = rng.normal(1e4, 3.0, size=(2, 2, 50)).astype(np.float32)
    stats = lambda x: (np.float32(len(x)), x.mean(), ((x - x.mean()) ** 2).sum())
    count, mean, m2 = popart.combine_moments(stats(a[0]), stats(b[0]))
    union = np.concatenate([a[0], b[0]]).astype(np.float64)
    self.assertAllClose(100.0, count)
    self.assertAllClose(union.mean(), mean, rtol=1e-6)
    self.assertAllClose(((union - union.mean()) ** 2).sum(), m2, rtol=1e-3)
    # With an empty side, the other side's moments.
    self.assertAllClose(stats(a[1]), popart.combine_moments((0.0, 0.0, 0.0), stats(a[1])))

  def test_absent_tasks_keep_their_statistics(self):
    mu, var = popart.update_moments(
        tf.constant([1.0, 2.0]), tf.constant([5.0, 6.0]), tf.constant([1.0, 0.0]),
        tf.constant([3.0, 0.0]), tf.constant([0.0, 0.0]), step_size=0.5)
    # Task 0: one target 3 with β = 0.5: μ = 2, σ² = 0.5·(5 + 0.5·4) = 3.5.
    self.assertAllClose([2.0, 2.0], mu)
    self.assertAllClose([3.5, 6.0], var)

  def test_scale_bounds(self):
    self.assertAllClose([1e-2, 3.0, 10.0],
                        popart.scale(tf.constant([0.0, 9.0, 1e4]), 1e-2, 10.0))


class PopArtModuleTest(tf.test.TestCase):

  def test_update_moves_statistics_and_preserves_the_layer_outputs(self):
    rng = np.random.default_rng(2)
    stats = popart.PopArt(num_tasks=2, step_size=0.1, sigma_min=1e-4, sigma_max=1e6)
    kernel = tf.Variable(rng.normal(size=(4, 2)).astype(np.float32))
    bias = tf.Variable(rng.normal(size=2).astype(np.float32))
    old_bias = bias.numpy()
    h = rng.normal(size=(6, 4)).astype(np.float32)
    values = lambda: popart.unnormalize(h @ kernel.numpy() + bias.numpy(), stats.mu, stats.sigma)
    before = values()
    # Task 0: one target of 100; task 1: three targets of mean −10, spread m2 = 6.
    stats.update(tf.constant([1.0, 3.0]), tf.constant([100.0, -10.0]),
                 tf.constant([0.0, 6.0]), kernel, bias)
    beta3 = 1 - 0.9 ** 3
    self.assertAllClose([0.1 * 100.0, beta3 * -10.0], stats.mu, rtol=1e-5)
    self.assertAllClose([0.9 * (1 + 0.1 * 100.0 ** 2),
                         (1 - beta3) * (1 + beta3 * 100.0) + beta3 * 2.0], stats.variance,
                        rtol=1e-5)
    self.assertAllEqual([1, 3], stats.targets.numpy())
    self.assertAllClose(before, values(), rtol=1e-5, atol=1e-4)
    self.assertNotAllClose(old_bias, bias.numpy())   # the layer did change

  def test_checkpoint_round_trip(self):
    stats = popart.PopArt(3, 0.1, 1e-4, 1e6)
    stats.mu.assign([1.0, 2.0, 3.0])
    stats.variance.assign([5.0, 6.0, 10.0])
    path = tf.train.Checkpoint(popart=stats).save(self.get_temp_dir() + '/ckpt')
    restored = popart.PopArt(3, 0.1, 1e-4, 1e6)
    tf.train.Checkpoint(popart=restored).restore(path).assert_existing_objects_matched()
    self.assertAllEqual(stats.sigma, restored.sigma)
    self.assertAllEqual(stats.mu, restored.mu)


if __name__ == '__main__':
  tf.test.main()
