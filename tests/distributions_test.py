"""Categorical and diagonal-Gaussian policies against closed forms."""

import math

import gymnasium as gym
import numpy as np
import tensorflow as tf

from impala_tf import distributions


class CategoricalTest(tf.test.TestCase):

  def test_entropy_of_known_distributions(self):
    dist = distributions.Categorical(4)
    uniform = np.zeros([4], np.float32)
    self.assertAllClose(math.log(4), dist.entropy(uniform))
    logits = np.log(np.array([0.5, 0.25, 0.25, 1e-12], np.float32))
    self.assertAllClose(1.5 * math.log(2), dist.entropy(logits), atol=1e-5)

  def test_log_prob_and_mode(self):
    dist = distributions.Categorical(3)
    logits = np.log(np.array([[0.2, 0.5, 0.3]], np.float32))
    self.assertAllClose([math.log(0.5)], dist.log_prob(logits, np.array([1])))
    self.assertAllClose([math.log(0.2 + 1e-3)],
                        dist.log_prob(logits, np.array([0]), epsilon=1e-3))
    self.assertAllEqual([1], dist.mode(logits))

  def test_sample_frequencies(self):
    dist = distributions.Categorical(3)
    logits = np.tile(np.log(np.array([[0.2, 0.5, 0.3]], np.float32)), [20000, 1])
    samples = dist.sample(logits, seed=tf.constant([1, 2])).numpy()
    self.assertEqual(samples.shape, (20000,))
    freq = np.bincount(samples, minlength=3) / 20000
    self.assertAllClose([0.2, 0.5, 0.3], freq, atol=0.015)


  def test_kl(self):
    dist = distributions.Categorical(3)
    p = np.array([[0.2, 0.5, 0.3]])
    q = np.array([[0.6, 0.1, 0.3]])
    expected = np.sum(p * np.log(p / q), axis=-1)
    self.assertAllClose(expected, dist.kl(np.log(p).astype(np.float32),
                                          np.log(q).astype(np.float32) + 3.0), rtol=1e-5)
    self.assertAllClose([0.0], dist.kl(np.log(p).astype(np.float32),
                                       np.log(p).astype(np.float32)), atol=1e-7)


class DiagGaussianTest(tf.test.TestCase):

  def test_kl_matches_monte_carlo(self):
    dist = distributions.DiagGaussian(2)
    p = np.array([[0.5, -1.0, 0.0, np.log(2.0)]], np.float32)
    q = np.array([[0.0, 0.0, np.log(1.5), np.log(0.5)]], np.float32)
    x = dist.sample(np.tile(p, [200000, 1]), seed=tf.constant([5, 6]))
    monte_carlo = np.mean(dist.log_prob(np.tile(p, [200000, 1]), x)
                          - dist.log_prob(np.tile(q, [200000, 1]), x))
    self.assertAllClose(monte_carlo, dist.kl(p, q)[0], rtol=0.02)

  def test_log_prob_matches_density(self):
    dist = distributions.DiagGaussian(2)
    mean, log_std = np.array([0.5, -1.0]), np.array([0.0, np.log(2.0)])
    params = np.concatenate([mean, log_std]).astype(np.float32)[None]
    action = np.array([[1.0, 0.0]], np.float32)
    sigma = np.exp(log_std)
    density = np.prod(np.exp(-0.5 * ((action[0] - mean) / sigma) ** 2) /
                      (sigma * np.sqrt(2 * np.pi)))
    self.assertAllClose([np.log(density)], dist.log_prob(params, action), rtol=1e-5)
    self.assertAllClose(
        [np.sum(0.5 * np.log(2 * np.pi * np.e * sigma ** 2))], dist.entropy(params),
        rtol=1e-5)
    self.assertAllClose(mean[None], dist.mode(params))

  def test_sample_moments(self):
    dist = distributions.DiagGaussian(1)
    params = np.tile(np.array([[2.0, np.log(0.5)]], np.float32), [50000, 1])
    samples = dist.sample(params, seed=tf.constant([3, 4])).numpy()
    self.assertAllClose(2.0, samples.mean(), atol=0.01)
    self.assertAllClose(0.5, samples.std(), atol=0.01)


class ForActionSpaceTest(tf.test.TestCase):

  def test_spaces(self):
    self.assertIsInstance(distributions.for_action_space(gym.spaces.Discrete(6)),
                          distributions.Categorical)
    gaussian = distributions.for_action_space(gym.spaces.Box(-1, 1, (3,)))
    self.assertEqual(gaussian.num_params, 6)
    with self.assertRaisesRegex(ValueError, 'Unsupported action space'):
      distributions.for_action_space(gym.spaces.MultiBinary(3))


if __name__ == '__main__':
  tf.test.main()
