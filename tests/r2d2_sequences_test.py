"""R2D2's sequences: length, overlap, episode boundaries and stored states."""

from absl.testing import parameterized
import numpy as np

from absl.testing import absltest

from impala_tf.r2d2 import sequences


def _episode(builder, length, first_id=0):
  """Adds `length` steps whose ids and states are their global step numbers."""
  out = []
  for i in range(first_id, first_id + length):
    out += builder.add({'id': np.int64(i), 'obs': np.full(3, i, np.float32)},
                       state_before=(np.full(2, i, np.float32),))
  return out + builder.end_episode()


class SequenceBuilderTest(parameterized.TestCase):

  @parameterized.named_parameters(
      # (episode length, expected [start, end) of each sequence's real steps)
      ('shorter_than_a_sequence', 30, [(0, 30)]),
      ('exactly_one', 80, [(0, 80)]),
      ('one_and_a_bit', 100, [(0, 80), (40, 100)]),
      ('ends_on_a_window', 120, [(0, 80), (40, 120)]),
      ('long', 250, [(0, 80), (40, 120), (80, 160), (120, 200), (160, 240), (200, 250)]),
  )
  def test_overlap_and_padding(self, length, expected):
    builder = sequences.SequenceBuilder(length=80, period=40)
    out = _episode(builder, length)
    self.assertEqual([(int(s.steps['id'][0]), int(s.steps['id'][0]) + int(s.mask.sum()))
                      for s in out], expected)
    covered = set()
    for s in out:
      real = int(s.mask.sum())
      self.assertEqual(s.steps['id'].shape, (80,))
      self.assertEqual(s.steps['obs'].shape, (80, 3))
      # Real steps are consecutive; padding is zeros with mask 0.
      self.assertTrue(np.array_equal(s.steps['id'][:real],
                                     np.arange(s.steps['id'][0], s.steps['id'][0] + real)))
      self.assertTrue(np.all(s.mask[:real] == 1) and np.all(s.mask[real:] == 0))
      self.assertTrue(np.all(s.steps['obs'][real:] == 0))
      # The stored state is the one before the sequence's first step.
      self.assertTrue(np.array_equal(s.start_state[0], np.full(2, s.steps['id'][0])))
      self.assertEqual(s.episode_start, s.steps['id'][0] == 0)
      covered |= set(s.steps['id'][:real].tolist())
    self.assertEqual(covered, set(range(length)))  # every step is replayed

  def test_never_crosses_an_episode_boundary(self):
    builder = sequences.SequenceBuilder(length=80, period=40)
    first = _episode(builder, 100, first_id=0)
    second = _episode(builder, 90, first_id=1000)
    for s in first:
      self.assertTrue(np.all(s.steps['id'][s.mask == 1] < 1000))
    self.assertEqual([int(s.steps['id'][0]) for s in second], [1000, 1040])
    self.assertTrue(second[0].episode_start)
    self.assertTrue(np.array_equal(second[0].start_state[0], np.full(2, 1000)))

  def test_no_overlap(self):
    builder = sequences.SequenceBuilder(length=10, period=10)
    out = _episode(builder, 25)
    self.assertEqual([(int(s.steps['id'][0]), int(s.mask.sum())) for s in out],
                     [(0, 10), (10, 10), (20, 5)])

  def test_memory_stays_bounded(self):
    builder = sequences.SequenceBuilder(length=80, period=40)
    for i in range(10_000):
      builder.add({'id': np.int64(i)}, state_before=())
    self.assertLessEqual(len(builder._steps), 80)  # pylint: disable=protected-access

  def test_bad_period(self):
    with self.assertRaisesRegex(ValueError, 'period'):
      sequences.SequenceBuilder(length=80, period=0)
    with self.assertRaisesRegex(ValueError, 'period'):
      sequences.SequenceBuilder(length=80, period=81)


if __name__ == '__main__':
  absltest.main()
