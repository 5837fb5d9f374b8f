"""MERLIN learns a bsuite memory that a feed-forward IMPALA agent cannot.

bsuite's memory_len/6 shows a cue at an episode's first step and asks for it
7 steps later; a policy that sees only the present observation is right half
the time whatever it learns. configs/merlin_bsuite.py on that setting, for a
budget of frames (not seconds: the result does not depend on the machine's
speed), against the same preset's shared settings with IMPALA's
feed-forward network (configs/impala_lstm_bsuite.py with use_lstm=false).
bsuite's own analysis reads the learner's log of the episodes.
"""

import os

from bsuite.logging import csv_load
import pytest
import tensorflow as tf

import small_runs  # tests/small_runs.py

# Tier (pytest.ini): trains to return thresholds.
pytestmark = pytest.mark.learning

_SETTING = 'bsuite:memory_len/6'
_FRAMES = '--config.total_environment_frames=100000'


def _right(logdir, last=1000):
  """The share of right answers over the last `last` logged episodes."""
  frame, _ = csv_load.load_bsuite(os.path.join(logdir, 'bsuite'))
  frame = frame.sort_values('episode')
  end = frame.iloc[-1]
  before = frame[frame.episode <= end.episode - last].iloc[-1]
  return (end.total_perfect - before.total_perfect) / (end.episode - before.episode)


class MerlinLearningTest(tf.test.TestCase):

  def test_merlin_remembers_what_a_feed_forward_agent_cannot(self):
    merlin = small_runs.train_local(os.path.join(self.get_temp_dir(), 'merlin'),
                                    f'--config.env_id={_SETTING}', _FRAMES,
                                    preset='merlin_bsuite.py')
    feed_forward = small_runs.train_local(
        os.path.join(self.get_temp_dir(), 'feed_forward'), f'--config.env_id={_SETTING}',
        _FRAMES, '--config.use_lstm=false', preset='impala_lstm_bsuite.py')
    self.assertGreaterEqual(merlin['env_frames'], 100_000)
    merlin_right = _right(merlin['logdir'])
    feed_forward_right = _right(feed_forward['logdir'])
    print(f'right over the last 1,000 episodes: MERLIN {merlin_right:.3f}, '
          f'feed-forward {feed_forward_right:.3f}')
    self.assertGreaterEqual(merlin_right, 0.9, merlin)
    self.assertLess(feed_forward_right, 0.65, feed_forward)
