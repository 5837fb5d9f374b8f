"""R2D2's ε ladder and ε-greedy actions."""

import numpy as np
import tensorflow as tf

from absl.testing import absltest

from impala_tf.agents.r2d2 import exploration


class ExplorationTest(absltest.TestCase):

  def test_the_ladder(self):
    eps = [exploration.actor_epsilon(i, 8) for i in range(8)]
    self.assertAlmostEqual(eps[0], 0.4)
    self.assertAlmostEqual(eps[-1], 0.4 ** 8)
    self.assertAlmostEqual(eps[3], 0.4 ** (1 + 7 * 3 / 7))
    self.assertTrue(all(a > b for a, b in zip(eps, eps[1:])))
    self.assertAlmostEqual(exploration.actor_epsilon(0, 1), 0.4)
    with self.assertRaisesRegex(ValueError, 'actor index'):
      exploration.actor_epsilon(8, 8)

  def test_epsilon_greedy(self):
    q = tf.constant(np.tile(np.array([[0.0, 1.0, 0.5]], np.float32), (20_000, 1)))
    seed = tf.constant([3, 4], tf.int64)
    self.assertTrue(np.all(exploration.EpsilonGreedy(3, 0.0).sample(q, seed).numpy() == 1))
    self.assertTrue(np.all(exploration.EpsilonGreedy(3, 0.7).mode(q).numpy() == 1))
    dist = exploration.EpsilonGreedy(3, 0.3)
    actions = dist.sample(q, seed).numpy()
    # The same seed, the same actions; another seed, others.
    np.testing.assert_array_equal(actions, dist.sample(q, seed).numpy())
    self.assertFalse(np.array_equal(actions, dist.sample(q, seed + 1).numpy()))
    # Greedy with probability 0.7 + 0.3/3 = 0.8; each other action 0.1.
    self.assertAlmostEqual(np.mean(actions == 1), 0.8, delta=0.015)
    self.assertAlmostEqual(np.mean(actions == 0), 0.1, delta=0.01)


if __name__ == '__main__':
  absltest.main()
