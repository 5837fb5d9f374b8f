"""PBT's rules, deterministic with a seeded generator."""

import math

import numpy as np
import tensorflow as tf

from impala_tf.agents import interface
from impala_tf.pbt import config as pbt_config
from impala_tf.pbt import rules


def _spec(name, low, high):
  return interface.Hyperparameter(name, low=low, high=high)


class RulesTest(tf.test.TestCase):

  def test_readiness(self):
    self.assertFalse(rules.is_ready(frames=999, episodes_since_decision=10**6,
                                    burn_in_frames=1000, ready_episodes=5000))
    self.assertFalse(rules.is_ready(10**9, 4999, 1000, 5000))
    self.assertTrue(rules.is_ready(1000, 5000, 1000, 5000))

  def test_absolute_margin(self):
    # The paper's rule on capped human-normalised scores: better by > 0.05.
    self.assertTrue(rules.should_exploit(0.50, 0.551, 0.05))
    self.assertFalse(rules.should_exploit(0.50, 0.549, 0.05))
    # Near 0 a relative rule would copy on noise (0.001 → 0.002 is +100 %).
    self.assertFalse(rules.should_exploit(0.001, 0.002, 0.05))
    self.assertFalse(rules.should_exploit(-0.001, 0.0, 0.05))
    # Negative fitnesses: the same absolute margin.
    self.assertTrue(rules.should_exploit(-0.30, -0.20, 0.05))
    # Raw returns with a margin in return units.
    self.assertTrue(rules.should_exploit(100.0, 126.0, 25.0))
    self.assertFalse(rules.should_exploit(100.0, 124.0, 25.0))
    # Without a measured fitness on either side, no copy.
    self.assertFalse(rules.should_exploit(None, 400.0, 25.0))
    self.assertFalse(rules.should_exploit(1.0, None, 0.05))
    self.assertFalse(rules.should_exploit(1.0, float('nan'), 0.05))

  def test_win_probability_rule(self):
    # Elo: 400 points apart, the stronger wins 10 times in 11.
    self.assertAllClose(10 / 11, rules.win_probability(1000.0, 1400.0))
    self.assertAllClose(0.5, rules.win_probability(1200.0, 1200.0))
    # FTW's threshold 0.7 is crossed at a gap of 400·log10(7/3) = 147.2.
    self.assertTrue(rules.should_exploit_by_win_probability(1000.0, 1148.0, 0.7))
    self.assertFalse(rules.should_exploit_by_win_probability(1000.0, 1146.0, 0.7))
    self.assertFalse(rules.should_exploit_by_win_probability(None, 1500.0, 0.7))
    self.assertFalse(rules.should_exploit_by_win_probability(1000.0, float('inf'), 0.7))

  def test_the_exploit_rule_is_chosen_by_the_config(self):
    # The config's names and the rules' agree, and each name picks its rule.
    self.assertEqual(set(pbt_config.EXPLOIT_RULES), set(rules.EXPLOIT_RULES))
    margin = pbt_config.PBTConfig(exploit_margin=25.0)
    elo = pbt_config.PBTConfig(exploit_rule='win_probability', exploit_win_probability=0.7)
    # 100 -> 130: past the margin of 25, but a 52 % chance of winning.
    self.assertTrue(rules.exploit_rule(margin)(100.0, 130.0))
    self.assertFalse(rules.exploit_rule(elo)(100.0, 130.0))
    self.assertTrue(rules.exploit_rule(elo)(1000.0, 1200.0))

  def test_candidates_are_live_measured_members_of_this_population(self):
    state = lambda fitness: dict(fitness=fitness)
    states = {0: state(10.0), 1: state(None), 2: state(50.0), 3: state(20.0), 4: None,
              5: state(90.0), 6: state(float('nan')), 7: state(30.0)}
    ages = {0: 0.0, 1: 5.0, 2: 1000.0, 3: 5.0, 4: None, 5: 5.0, 6: 5.0, 7: None}
    # 0 is the decider; 1 has no fitness; 2's heartbeat is stale; 4 never
    # published; 5 belongs to an older population of 6 (this one has 5
    # members); 7 published a fitness but has no heartbeat.
    self.assertEqual([3], rules.candidates(states, 0, 5, ages, stale_seconds=600))
    self.assertEqual([3, 5], rules.candidates(states, 0, None, ages, stale_seconds=600))
    self.assertEqual([2, 3, 5], rules.candidates(states, 0, None, ages, stale_seconds=2000))

  def test_perturbation_factors_probability_and_ranges(self):
    rng = np.random.default_rng(0)
    ranges = (_spec('learning_rate', 1e-6, 1.0), _spec('entropy_cost', 1e-4, 1e-1))
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
    space = (_spec('learning_rate', 1e-5, 1e-1),)
    samples = [rules.sample_initial(rng, space)['learning_rate'] for _ in range(4000)]
    self.assertTrue(all(1e-5 <= s <= 1e-1 for s in samples))
    # Log-uniform: the log's mean is the middle of the log range.
    self.assertAllClose(math.log(1e-3), np.mean(np.log(samples)), atol=0.1)
    again = rules.sample_initial(np.random.default_rng(3), space)
    self.assertEqual(samples[0], again['learning_rate'])

  def test_integer_vector_and_resampled_hyperparameters(self):
    # What an agent may declare besides floats (interface.Hyperparameter).
    unroll = interface.Hyperparameter('unroll', kind='integer', low=5, high=40,
                                      log_scale=False)
    weights = interface.Hyperparameter('reward_weights', kind='vector', low=0.1, high=10.0,
                                       size=3)
    cost = interface.Hyperparameter('cost', low=1e-3, high=1e-1, perturb='resample')
    space = (unroll, weights, cost)
    rng = np.random.default_rng(0)
    start = rules.sample_initial(rng, space)
    self.assertIsInstance(start['unroll'], int)
    self.assertBetween(start['unroll'], 5, 40)
    self.assertLen(start['reward_weights'], 3)
    self.assertTrue(all(0.1 <= w <= 10.0 for w in start['reward_weights']))
    start['reward_weights'] = [1.0, 2.0, 3.0]   # away from the range's ends
    seen_costs, ratios = set(), []
    for _ in range(2000):
      out = rules.explore(rng, start, space, factor=1.2, probability=1.0)
      self.assertIsInstance(out['unroll'], int)
      self.assertBetween(out['unroll'], 5, 40)
      self.assertIn(out['unroll'], (round(start['unroll'] * 1.2),
                                    round(start['unroll'] / 1.2)))
      ratios.append(np.array(out['reward_weights']) / np.array(start['reward_weights']))
      self.assertBetween(out['cost'], 1e-3, 1e-1)
      seen_costs.add(out['cost'])
    ratios = np.array(ratios)
    self.assertTrue(np.all(np.isclose(ratios, 1.2) | np.isclose(ratios, 1 / 1.2)))
    # Each entry of a vector goes its own way.
    self.assertAllClose(0.25, np.mean(np.isclose(ratios[:, 0], 1.2)
                                      & np.isclose(ratios[:, 1], 1.2)), atol=0.04)
    # 'resample' draws afresh, not a factor away.
    self.assertGreater(len(seen_costs), 1000)

  def test_a_bad_hyperparameter_declaration_is_refused(self):
    with self.assertRaisesRegex(ValueError, 'kind'):
      interface.Hyperparameter('x', kind='complex')
    with self.assertRaisesRegex(ValueError, 'range'):
      interface.Hyperparameter('x', low=0.0, high=1.0)   # log scale from 0

  def test_pick_other(self):
    rng = np.random.default_rng(4)
    picks = {rules.pick_other(rng, 1, [0, 1, 2, 3]) for _ in range(200)}
    self.assertEqual({0, 2, 3}, picks)
    self.assertIsNone(rules.pick_other(rng, 0, [0]))


class FitnessWindowTest(tf.test.TestCase):

  def test_mean_since_the_last_decision_with_a_minimum(self):
    window = rules.FitnessWindow(num_tasks=1, min_episodes=3)
    window.add([10.0, 20.0], [0, 0], [0] * 2)
    self.assertIsNone(window.value())          # 2 < 3 episodes
    window.add([30.0], [0], [0] * 1)
    self.assertAllClose(20.0, window.value())
    # A decision that kept the weights: the old value stands in until the
    # new window has 3 episodes, which then replace it entirely.
    window.reset(keep=True)
    self.assertEqual(0, window.episodes)
    window.add([100.0], [0], [0] * 1)
    self.assertAllClose(20.0, window.value())
    window.add([100.0, 100.0], [0, 0], [0] * 2)
    self.assertAllClose(100.0, window.value())
    # A copy (new weights): nothing stands in for them.
    window.reset(keep=False)
    window.add([5.0], [0], [0] * 1)
    self.assertIsNone(window.value())

  def test_after_a_copy_only_episodes_the_new_weights_started_count(self):
    # Copied at learner step 40: an episode ending after the copy but
    # started by version 39 or earlier was played mostly by the replaced
    # weights and is not counted; versions 40 and later are.
    window = rules.FitnessWindow(num_tasks=1, min_episodes=2)
    window.add([10.0, 12.0], [0, 0], [35, 38])
    self.assertAllClose(11.0, window.value())
    window.reset(keep=False, from_version=40)
    window.add([-50.0, -60.0, 30.0], [0, 0, 0], [38, 39, 40])
    self.assertEqual(1, window.episodes)
    self.assertIsNone(window.value())
    window.add([50.0], [0], [41])
    self.assertAllClose(40.0, window.value())
    # A later decision that keeps the weights keeps the bar where it was.
    window.reset(keep=True)
    window.add([-70.0, 20.0, 22.0], [0, 0, 0], [39, 42, 43])
    self.assertEqual(2, window.episodes)
    self.assertAllClose(21.0, window.value())
    with self.assertRaisesRegex(ValueError, '2 returns, 2 tasks and 1 start versions'):
      window.add([1.0, 2.0], [0, 0], [50])

  def test_tasks_count_in_their_own_units(self):
    # Task 1's rewards are ×1000: its returns are divided back.
    window = rules.FitnessWindow(2, min_episodes=2, reward_scales=(1.0, 1000.0))
    window.add([400.0, 100_000.0], [0, 1], [0] * 2)
    self.assertAllClose((400.0 + 100.0) / 2, window.value())
    # Every task needs an episode.
    window = rules.FitnessWindow(2, min_episodes=1)
    window.add([1.0, 2.0], [0, 0], [0] * 2)
    self.assertIsNone(window.value())

  def test_human_normalised(self):
    window = rules.FitnessWindow(2, 1, human_normalizers=[lambda m: min(m / 10, 1.0),
                                                          lambda m: m / 100])
    window.add([50.0, 20.0, 40.0], [0, 1, 1], [0] * 3)
    self.assertAllClose((1.0 + 0.3) / 2, window.value())

  def test_references_put_tasks_of_different_scales_on_one(self):
    # Task 0's returns run 0-500 (CartPole), task 1's 0-500,000. In their
    # own units the second decides every comparison: member A, far better
    # on task 0, loses to B, a little better on task 1. Against per-task
    # references (random, target) each task weighs alike and A wins.
    def fitness(returns, **kwargs):
      window = rules.FitnessWindow(2, min_episodes=2, **kwargs)
      window.add(returns, [0, 1], [0, 0])
      return window.value()
    a, b = [480.0, 200_000.0], [40.0, 210_000.0]
    self.assertLess(fitness(a), fitness(b))
    references = ((20.0, 500.0), (0.0, 500_000.0))
    self.assertAllClose((460 / 480 + 0.4) / 2, fitness(a, references=references))
    self.assertAllClose((20 / 480 + 0.42) / 2, fitness(b, references=references))
    self.assertGreater(fitness(a, references=references), fitness(b, references=references))
    # In the environment's units: after the reward scales, before the references.
    self.assertAllClose((460 / 480 + 0.4) / 2,
                        fitness([480.0, 2_000.0], reward_scales=(1.0, 0.01),
                                references=references))
    with self.assertRaisesRegex(ValueError, '1 references for 2 tasks'):
      rules.FitnessWindow(2, 1, references=((0.0, 1.0),))


if __name__ == '__main__':
  tf.test.main()
