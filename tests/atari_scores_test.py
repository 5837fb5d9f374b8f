"""Human-normalised scores from the published random and human references."""

import tensorflow as tf

from impala_tf import atari_scores


class AtariScoresTest(tf.test.TestCase):

  def test_human_normalized(self):
    self.assertLen(atari_scores.SCORES, 57)
    self.assertAllClose(0.0, atari_scores.human_normalized('ALE/Pong-v5', -20.7))
    self.assertAllClose(1.0, atari_scores.human_normalized('ALE/Pong-v5', 14.6))
    self.assertAllClose((21 + 20.7) / (14.6 + 20.7),
                        atari_scores.human_normalized('ALE/Pong-v5', 21.0))
    self.assertAllClose((400 - 1.7) / (30.5 - 1.7),
                        atari_scores.human_normalized('ALE/Breakout-v5', 400.0))
    self.assertEqual('space_invaders', atari_scores.game_of('ALE/SpaceInvaders-v5'))
    self.assertIsNone(atari_scores.human_normalized('CartPole-v1', 500.0))

  def test_report_median_over_tasks(self):
    report = atari_scores.human_normalized_report(
        {'pong': 14.6, 'breakout': 1.7, 'invaders': None, 'cart': 500.0},
        {'pong': 'ALE/Pong-v5', 'breakout': 'ALE/Breakout-v5',
         'invaders': 'ALE/SpaceInvaders-v5', 'cart': 'CartPole-v1'})
    self.assertEqual(sorted(report['per_task']), ['breakout', 'pong'])
    self.assertAllClose(0.5, report['median'])
    self.assertIsNone(atari_scores.human_normalized_report({'cart': 1.0}, {'cart': 'CartPole-v1'}))


if __name__ == '__main__':
  tf.test.main()
