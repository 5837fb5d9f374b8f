"""Elo ratings and FTW's matchmaking (impala_tf/selfplay) against values
computed by hand."""

import numpy as np
import tensorflow as tf

from impala_tf.pbt import rules
from impala_tf.selfplay import elo
from impala_tf.selfplay import matchmaking


class EloTest(tf.test.TestCase):

  def test_expected_score(self):
    self.assertAllClose(elo.expected_score(1000, 1000), 0.5)
    # 1 / (1 + 10^(-200/400)) = 1 / (1 + 0.316228)
    self.assertAllClose(elo.expected_score(1200, 1000), 0.759746927)
    self.assertAllClose(elo.expected_score(1000, 1200), 0.240253073)
    # PBT's FTW exploit rule reads the same formula: P(other beats own).
    self.assertAllClose(rules.win_probability(1000, 1200), 0.759746927)

  def test_one_against_one(self):
    # E(A) = 0.240253; A wins: A gains 32 × (1 − 0.240253) = 24.311902.
    new = elo.update([1000.0, 1200.0], [0], [1], 1.0)
    self.assertAllClose(new, [1024.311902, 1175.688098])
    # B wins: A loses 32 × 0.240253 = 7.688098.
    self.assertAllClose(elo.update([1000.0, 1200.0], [0], [1], 0.0), [992.311902, 1207.688098])
    # A draw between equals moves nothing.
    self.assertAllClose(elo.update([1000.0, 1000.0], [0], [1], 0.5), [1000.0, 1000.0])

  def test_teams_use_their_mean_rating_and_every_slot_moves(self):
    # Means 1050 and 1050: E = 0.5; team B wins with K = 10: A's slots −5, B's +5.
    new = elo.update([1000.0, 1100.0, 1200.0, 900.0], [0, 1], [2, 3], 0.0, k=10.0)
    self.assertAllClose(new, [995.0, 1095.0, 1205.0, 905.0])
    # Member 0 fills both of A's slots: it moves twice.
    new = elo.update([1000.0, 1000.0], [0, 0], [1, 1], 1.0, k=10.0)
    self.assertAllClose(new, [1010.0, 990.0])

  def test_self_play_leaves_a_rating_and_the_sum_is_kept(self):
    self.assertAllClose(elo.update([1000.0, 1300.0], [1], [1], 1.0), [1000.0, 1300.0])
    rng = np.random.default_rng(0)
    ratings = np.full(4, 1000.0)
    for _ in range(50):
      a, b = rng.integers(4, size=2)
      ratings = elo.update(ratings, [a], [b], float(rng.integers(3)) / 2)
    self.assertAllClose(ratings.sum(), 4000.0)

  def test_outcomes_and_bad_input(self):
    self.assertEqual(elo.outcome_of(2, 1), 1.0)
    self.assertEqual(elo.outcome_of(1, 1), 0.5)
    self.assertEqual(elo.outcome_of(0, 3), 0.0)
    with self.assertRaisesRegex(ValueError, 'outcome must be'):
      elo.update([1000.0, 1000.0], [0], [1], 2.0)
    with self.assertRaisesRegex(ValueError, 'both teams'):
      elo.update([1000.0, 1000.0], [0], [], 1.0)


class MatchmakingTest(tf.test.TestCase):

  def test_slot_probabilities(self):
    # Focal member 0 at 1000: against 1000, E = 0.5 (weight 1); against
    # 1400, E = 1/11 = 0.090909 and the weight is
    # exp(−(0.409091)² / (2/36)) = exp(−3.012397) = 0.049174.
    p = matchmaking.slot_probabilities([1000.0, 1000.0, 1400.0], 0, 1.0 / 6.0)
    self.assertAllClose(p, [0.488002, 0.488002, 0.023997], atol=1e-6)
    # Equal ratings: uniform.
    self.assertAllClose(matchmaking.slot_probabilities([5.0] * 4, 2, 0.1), [0.25] * 4)
    with self.assertRaisesRegex(ValueError, 'sigma'):
      matchmaking.slot_probabilities([1000.0], 0, 0.0)

  def test_drawn_matches_follow_the_distribution(self):
    ratings = [1000.0, 1000.0, 1400.0]
    rng = np.random.default_rng(1)
    focal_counts = np.zeros(3)
    opponent_counts = np.zeros((3, 3))
    n = 30000
    for _ in range(n):
      a, b = matchmaking.draw_match(ratings, 1, 1.0 / 6.0, rng)
      self.assertLen(a, 1)
      self.assertLen(b, 1)
      focal_counts[a[0]] += 1
      opponent_counts[a[0], b[0]] += 1
    self.assertAllClose(focal_counts / n, [1 / 3] * 3, atol=0.015)
    for focal in range(3):
      expected = matchmaking.slot_probabilities(ratings, focal, 1.0 / 6.0)
      self.assertAllClose(opponent_counts[focal] / opponent_counts[focal].sum(), expected,
                          atol=0.015)

  def test_team_matches_fill_every_slot(self):
    a, b = matchmaking.draw_match([1000.0] * 4, 2, 0.2, np.random.default_rng(0))
    self.assertLen(a, 2)
    self.assertLen(b, 2)
    with self.assertRaisesRegex(ValueError, 'players_per_team'):
      matchmaking.draw_match([1000.0], 0, 0.2, np.random.default_rng(0))


if __name__ == '__main__':
  tf.test.main()
