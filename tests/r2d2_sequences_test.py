"""R2D2's sequences: length, overlap, episode boundaries and stored states."""

from absl.testing import parameterized
import numpy as np

from absl.testing import absltest

from impala_tf.agents.r2d2 import losses
from impala_tf.agents.r2d2 import sequences


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

  @parameterized.named_parameters(
      ('short', 10, [(0, 10)]),
      ('long', 130, [(0, 40), (0, 60), (20, 80), (40, 100), (60, 120), (80, 130)]),
  )
  def test_lead_puts_the_first_steps_after_a_burn_in(self, length, expected):
    # Sequences of 20 burn-in + 40 trained steps, a new one every 20: with the
    # burn-in as lead, windows start 20 steps before the episode, on padding,
    # so the episode's first steps fall in a trained part too.
    builder = sequences.SequenceBuilder(length=60, period=20, lead=20)
    out = _episode(builder, length)
    real = [(int(s.steps['id'][s.mask == 1][0]), int(s.steps['id'][s.mask == 1][-1]) + 1)
            for s in out]
    self.assertEqual(real, expected)
    first = out[0]
    # Lead padding: zeros, mask 0, then the episode's step 0 at index 20.
    self.assertTrue(np.all(first.mask[:20] == 0) and first.mask[20] == 1)
    self.assertEqual(int(first.steps['id'][20]), 0)
    self.assertTrue(np.all(first.steps['obs'][:20] == 0))
    self.assertTrue(first.episode_start)
    # The stored state is the episode's initial one (the state before step 0).
    self.assertTrue(np.array_equal(first.start_state[0], np.zeros(2)))
    # Every step sits after the burn-in of some sequence (which steps have
    # a target there is `test_every_step_of_an_ended_episode_is_trained`).
    after_burn_in = set()
    for s in out:
      ids = s.steps['id'][20:60][s.mask[20:60] == 1]
      after_burn_in |= set(ids.tolist())
    self.assertEqual(after_burn_in, set(range(length)))

  @parameterized.parameters(100, 119, 120, 140, 133, 30)
  def test_every_step_of_an_ended_episode_is_trained(self, length):
    # 20 burn-in + 40 trained steps, a new sequence every 20, n = 5: the
    # learner's own mask says which steps of each sequence have a target.
    # Episodes of 100, 120 and 140 steps end on a sequence's last step, and
    # 119 one step before it: their final steps sit in the last n positions,
    # which had no target before the return could stop at the episode's end.
    burn_in, n = 20, 5
    builder = sequences.SequenceBuilder(length=60, period=20, lead=burn_in)
    out = []
    for i in range(length):
      out += builder.add({'id': np.int64(i),
                          'discount': np.float32(0.0 if i == length - 1 else 0.99)},
                         state_before=(np.zeros(2, np.float32),))
    out += builder.end_episode()
    trained = set()
    for seq in out:
      mask = seq.mask[burn_in:, None]
      discounts = seq.steps['discount'][burn_in:, None]
      has_target = losses.trained_mask(mask, discounts, n).numpy()[:, 0]
      ids = seq.steps['id'][burn_in:][:len(has_target)]
      trained |= set(ids[has_target == 1].tolist())
    self.assertEqual(sorted(set(range(length)) - trained), [])

  def test_a_time_limit_leaves_only_the_last_n_steps_untrained(self):
    # Cut by a time limit (no terminal): the last n steps have no state n on.
    burn_in, n, length = 20, 5, 120
    builder = sequences.SequenceBuilder(length=60, period=20, lead=burn_in)
    out = []
    for i in range(length):
      out += builder.add({'id': np.int64(i), 'discount': np.float32(0.99)},
                         state_before=(np.zeros(2, np.float32),))
    out += builder.end_episode()
    trained = set()
    for seq in out:
      has_target = losses.trained_mask(seq.mask[burn_in:, None],
                                       seq.steps['discount'][burn_in:, None], n).numpy()[:, 0]
      ids = seq.steps['id'][burn_in:][:len(has_target)]
      trained |= set(ids[has_target == 1].tolist())
    self.assertEqual(sorted(set(range(length)) - trained), list(range(length - n, length)))

  def test_never_crosses_an_episode_boundary(self):
    builder = sequences.SequenceBuilder(length=80, period=40)
    first = _episode(builder, 100, first_id=0)
    second = _episode(builder, 90, first_id=1000)
    for s in first:
      self.assertTrue(np.all(s.steps['id'][s.mask == 1] < 1000))
    self.assertEqual([int(s.steps['id'][0]) for s in second], [1000, 1040])
    self.assertTrue(second[0].episode_start)
    # An episode starts from the initial state, not the one the previous
    # episode left (the network resets at a first step anyway).
    self.assertTrue(np.array_equal(second[0].start_state[0], np.zeros(2)))
    self.assertTrue(np.array_equal(second[1].start_state[0], np.full(2, 1040)))

  def test_no_overlap(self):
    builder = sequences.SequenceBuilder(length=10, period=10)
    out = _episode(builder, 25)
    self.assertEqual([(int(s.steps['id'][0]), int(s.mask.sum())) for s in out],
                     [(0, 10), (10, 10), (20, 5)])

  @parameterized.named_parameters(('no_lead', 0), ('lead', 20))
  def test_each_step_is_written_once(self, lead):
    # Sequences of 80 overlapping by 40 hold most steps twice; the writer
    # gets each step once (plus the lead and the closing padding), and each
    # sequence is a view of its last 80 steps.
    builder = sequences.SequenceBuilder(length=80, period=40, lead=lead)
    out = _episode(builder, 250)
    writer = builder.writer
    held_twice = sum(int(s.mask.sum()) for s in out)
    self.assertGreater(held_twice, 1.5 * 250)
    # The lead, 250 steps, and the padding that fills the window open at the
    # end (windows start every 40 appended steps; the one at 200 ends at 280).
    self.assertEqual(writer.appended, 280)
    self.assertEqual(len(out), 6)

  def test_a_new_writer_continues_the_open_sequences(self):
    # A reconnecting actor attaches new writers mid-episode: they are given
    # the steps the open windows hold, so the sequences come out the same.
    whole = _episode(sequences.SequenceBuilder(length=60, period=20, lead=20), 130)
    builder = sequences.SequenceBuilder(length=60, period=20, lead=20)
    out = []
    for i in range(130):
      if i == 57:
        builder.attach(sequences.NumpyWriter(60))
      out += builder.add({'id': np.int64(i), 'obs': np.full(3, i, np.float32)},
                         state_before=(np.full(2, i, np.float32),))
    out += builder.end_episode()
    self.assertEqual(len(out), len(whole))
    for a, b in zip(out, whole):
      np.testing.assert_array_equal(a.steps['id'], b.steps['id'])
      np.testing.assert_array_equal(a.mask, b.mask)
      np.testing.assert_array_equal(a.start_state[0], b.start_state[0])

  def test_memory_stays_bounded(self):
    builder = sequences.SequenceBuilder(length=80, period=40)
    for i in range(10_000):
      builder.add({'id': np.int64(i)}, state_before=())
    self.assertLessEqual(len(builder._held), 80)  # pylint: disable=protected-access

  def test_bad_period(self):
    with self.assertRaisesRegex(ValueError, 'period'):
      sequences.SequenceBuilder(length=80, period=0)
    with self.assertRaisesRegex(ValueError, 'period'):
      sequences.SequenceBuilder(length=80, period=81)


if __name__ == '__main__':
  absltest.main()
