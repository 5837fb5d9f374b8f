"""R2D2's ε ladder and ε-greedy actions."""

import numpy as np
import reverb
import tensorflow as tf

from absl.testing import absltest

from impala_tf import trajectories
from impala_tf.agents.r2d2 import exploration
from impala_tf.agents.r2d2 import progress


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

  def test_the_greedy_end_is_the_quarter_with_the_smallest_epsilon(self):
    # 2 actors × 16 environments: rungs 24-31, all of actor 1's last 8.
    ladder = np.concatenate([exploration.environment_epsilons(a, 16, 2) for a in range(2)])
    greedy = ladder <= exploration.greedy_end_epsilon(32)
    self.assertEqual(np.flatnonzero(greedy).tolist(), list(range(24, 32)))
    self.assertAlmostEqual(exploration.greedy_end_epsilon(32), 0.4 ** (1 + 7 * 24 / 31),
                           places=6)
    # At least one environment; a lone one is its own greedy end.
    three = np.array([exploration.actor_epsilon(i, 3) for i in range(3)], np.float32)
    self.assertEqual((three <= exploration.greedy_end_epsilon(3)).tolist(),
                     [False, False, True])
    self.assertEqual(exploration.greedy_end_epsilon(1), np.float32(0.4))

  def test_greedy_end_episodes_are_reported_apart(self):
    # Progress items through a real Reverb queue: the reader keeps the
    # returns of episodes explored with ε at most the greedy end's, and
    # counts every episode and frame as before.
    server = reverb.Server([progress.table()], port=None)
    client = reverb.Client(f'127.0.0.1:{server.port}')
    threshold = exploration.greedy_end_epsilon(32)
    reader = progress.ProgressReader(client, threshold)
    ladder = np.concatenate([exploration.environment_epsilons(a, 16, 2) for a in range(2)])
    episodes = [(float(10 * i), 100 + i, 0, float(ladder[i]), 7 + i)
                for i in (0, 5, 23, 24, 31)]
    with client.trajectory_writer(num_keep_alive_refs=1) as writer:
      for item in progress.items(640, episodes[:3]) + progress.items(320, episodes[3:]):
        trajectories.insert_step_item(writer, progress.PROGRESS_TABLE, 1.0, item)
      writer.flush()
    reader.drain(client.server_info())
    self.assertEqual(list(reader.greedy_end_returns), [240.0, 310.0])
    frames, rows = reader.take()
    self.assertEqual(frames, 960)
    self.assertEqual(rows[1].tolist(), [0.0, 50.0, 230.0, 240.0, 310.0])
    # The weights version each episode started with, for PBT's window.
    self.assertEqual(rows[4].tolist(), [7.0, 12.0, 30.0, 31.0, 38.0])
    # Without a threshold none is kept apart.
    self.assertEmpty(progress.ProgressReader(client).greedy_end_returns)
    # A quarter of the environments: its last 25 episodes, the stretch of
    # training the all-ε mean's last 100 cover.
    self.assertEqual(25, progress.ProgressReader(client, threshold, 0.25)
                     .greedy_end_returns.maxlen)
    server.stop()

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
