"""PopArt's pure functions and statistics, against numpy."""

import numpy as np
import tensorflow as tf

from impala_tf import popart


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

  def test_statistics_converge_to_the_stream_moments(self):
    rng = np.random.default_rng(1)
    true_mean = np.array([3.0, -2000.0], np.float32)
    true_std = np.array([0.5, 700.0], np.float32)
    mu, nu = tf.zeros([2]), tf.ones([2])
    for _ in range(3000):
      x = rng.normal(true_mean, true_std, size=(64, 2)).astype(np.float32)
      mu, nu = popart.update_moments(mu, nu, np.full(2, 64.0, np.float32), x.sum(0),
                                     (x ** 2).sum(0), step_size=0.01)
    sigma = popart.scale(mu, nu, 1e-4, 1e6)
    self.assertAllClose(true_mean, mu, rtol=0.02)
    self.assertAllClose(true_std, sigma, rtol=0.05)

  def test_absent_tasks_keep_their_statistics(self):
    mu, nu = popart.update_moments(
        tf.constant([1.0, 2.0]), tf.constant([5.0, 6.0]), tf.constant([4.0, 0.0]),
        tf.constant([8.0, 0.0]), tf.constant([20.0, 0.0]), step_size=0.5)
    self.assertAllClose([0.5 * 1.0 + 0.5 * 2.0, 2.0], mu)
    self.assertAllClose([0.5 * 5.0 + 0.5 * 5.0, 6.0], nu)

  def test_scale_bounds(self):
    self.assertAllClose([1e-2, 3.0, 10.0],
                        popart.scale(tf.constant([0.0, 0.0, 0.0]), tf.constant([0.0, 9.0, 1e4]),
                                     1e-2, 10.0))


class PopArtModuleTest(tf.test.TestCase):

  def test_update_moves_statistics_and_preserves_the_layer_outputs(self):
    rng = np.random.default_rng(2)
    stats = popart.PopArt(num_tasks=2, step_size=0.1, sigma_min=1e-4, sigma_max=1e6)
    kernel = tf.Variable(rng.normal(size=(4, 2)).astype(np.float32))
    bias = tf.Variable(rng.normal(size=2).astype(np.float32))
    h = rng.normal(size=(6, 4)).astype(np.float32)
    values = lambda: popart.unnormalize(h @ kernel.numpy() + bias.numpy(), stats.mu, stats.sigma)
    before = values()
    stats.update(tf.constant([10.0, 3.0]), tf.constant([1000.0, -30.0]),
                 tf.constant([2e5, 400.0]), kernel, bias)
    self.assertAllClose([0.1 * 100.0, 0.1 * -10.0], stats.mu)
    self.assertAllClose([0.9 + 0.1 * 2e4, 0.9 + 0.1 * 400.0 / 3], stats.nu)
    self.assertAllClose(before, values(), rtol=1e-5, atol=1e-4)
    self.assertNotAllClose(bias.numpy(), before[0])   # the layer did change

  def test_checkpoint_round_trip(self):
    stats = popart.PopArt(3, 0.1, 1e-4, 1e6)
    stats.mu.assign([1.0, 2.0, 3.0])
    stats.nu.assign([5.0, 6.0, 10.0])
    path = tf.train.Checkpoint(popart=stats).save(self.get_temp_dir() + '/ckpt')
    restored = popart.PopArt(3, 0.1, 1e-4, 1e6)
    tf.train.Checkpoint(popart=restored).restore(path).assert_existing_objects_matched()
    self.assertAllEqual(stats.sigma, restored.sigma)


if __name__ == '__main__':
  tf.test.main()
