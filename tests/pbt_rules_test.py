"""PBT's rules, deterministic with a seeded generator."""

import math

import numpy as np
import tensorflow as tf

from impala_tf.pbt import rules


class RulesTest(tf.test.TestCase):

  def test_readiness(self):
    self.assertFalse(rules.is_ready(frames=999, episodes_since_change=10**6,
                                    burn_in_frames=1000, ready_episodes=5000))
    self.assertFalse(rules.is_ready(10**9, 4999, 1000, 5000))
    self.assertTrue(rules.is_ready(1000, 5000, 1000, 5000))

  def test_five_percent_rule(self):
    self.assertTrue(rules.should_exploit(100.0, 105.1, 0.05))
    self.assertFalse(rules.should_exploit(100.0, 104.9, 0.05))
    self.assertFalse(rules.should_exploit(100.0, 90.0, 0.05))
    # Negative fitnesses compare by margin over |own|: -20 → -18.9 is 5.5 %.
    self.assertTrue(rules.should_exploit(-20.0, -18.9, 0.05))
    self.assertFalse(rules.should_exploit(-20.0, -19.1, 0.05))
    # No fitness of our own yet: any measured one is better; none is not.
    self.assertTrue(rules.should_exploit(None, -20.0, 0.05))
    self.assertFalse(rules.should_exploit(1.0, None, 0.05))
    self.assertFalse(rules.should_exploit(1.0, float('nan'), 0.05))

  def test_perturbation_factors_probability_and_ranges(self):
    rng = np.random.default_rng(0)
    ranges = {'learning_rate': (1e-6, 1.0), 'entropy_cost': (1e-4, 1e-1)}
    start = {'learning_rate': 1e-3, 'entropy_cost': 1e-2}
    ratios = {name: [] for name in start}
    for _ in range(20000):
      out = rules.explore(rng, start, ranges, factor=1.2, probability=0.33)
      for name in start:
        ratios[name].append(out[name] / start[name])
    for name, values in ratios.items():
      values = np.array(values)
      self.assertTrue(np.all(np.isclose(values, 1.0) | np.isclose(values, 1.2)
                             | np.isclose(values, 1 / 1.2)), name)
      changed = ~np.isclose(values, 1.0)
      self.assertAllClose(0.33, changed.mean(), atol=0.01)
      self.assertAllClose(0.5, np.isclose(values[changed], 1.2).mean(), atol=0.02)
    # Clipped to the range.
    out = rules.explore(np.random.default_rng(1), {'entropy_cost': 0.1}, ranges,
                        factor=1.2, probability=1.0)
    self.assertLessEqual(out['entropy_cost'], 0.1)
    low = rules.explore(np.random.default_rng(2), {'learning_rate': 1e-6}, ranges,
                        factor=1.2, probability=1.0)
    self.assertGreaterEqual(low['learning_rate'], 1e-6)

  def test_initial_samples_log_uniform_in_range(self):
    rng = np.random.default_rng(3)
    samples = [rules.sample_initial(rng, {'learning_rate': (1e-5, 1e-1)}, ('learning_rate',))
               ['learning_rate'] for _ in range(4000)]
    self.assertTrue(all(1e-5 <= s <= 1e-1 for s in samples))
    # Log-uniform: the log's mean is the middle of the log range.
    self.assertAllClose(math.log(1e-3), np.mean(np.log(samples)), atol=0.1)
    again = rules.sample_initial(np.random.default_rng(3), {'learning_rate': (1e-5, 1e-1)},
                                 ('learning_rate',))
    self.assertEqual(samples[0], again['learning_rate'])

  def test_pick_other(self):
    rng = np.random.default_rng(4)
    picks = {rules.pick_other(rng, 1, [0, 1, 2, 3]) for _ in range(200)}
    self.assertEqual({0, 2, 3}, picks)
    self.assertIsNone(rules.pick_other(rng, 0, [0]))


if __name__ == '__main__':
  tf.test.main()
