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

  def test_the_ladder_runs_over_every_environment_of_the_run(self):
    # 2 actors × 4 environments: 8 rungs, actor 1's environments the lower 4.
    first = exploration.environment_epsilons(0, 4, 2)
    second = exploration.environment_epsilons(1, 4, 2)
    ladder = np.concatenate([first, second])
    want = [0.4 ** (1 + 7 * i / 7) for i in range(8)]
    np.testing.assert_allclose(ladder, want, rtol=1e-6)
    self.assertEqual(len(set(ladder.tolist())), 8)
    with self.assertRaisesRegex(ValueError, 'actor index'):
      exploration.environment_epsilons(2, 4, 2)

  def test_each_environment_explores_with_its_own_epsilon(self):
    q = tf.constant(np.tile(np.array([[0.0, 1.0, 0.5]], np.float32), (3, 1)))
    dist = exploration.EpsilonGreedy(3, [0.0, 0.6, 1.0])
    samples = np.stack([dist.sample(q, tf.constant([s, 1], tf.int64)).numpy()
                        for s in range(3000)])                          # [3000, 3]
    greedy = (samples == 1).mean(axis=0)
    # P(greedy) = 1 − ε + ε/3 per environment.
    np.testing.assert_allclose(greedy, [1.0, 1 - 0.6 + 0.2, 1 / 3], atol=0.03)
    with self.assertRaisesRegex(ValueError, 'epsilon'):
      exploration.EpsilonGreedy(3, [0.5, 1.5])

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
