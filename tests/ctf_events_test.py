"""Capture the Flag's events attributed to players (impala_tf/ctf/events.py),
on events written as dmlab2d reports them; needs no Melting Pot."""

from absl.testing import parameterized
import numpy as np
import tensorflow as tf

from impala_tf.ctf import events
from impala_tf.ctf import maps


def raw(name, **fields):
  """An event as dmlab2d reports it: bytes names, 0-d float arrays."""
  payload = [b'dict']
  for key, value in fields.items():
    payload += [key.encode(), value.encode() if isinstance(value, str) else np.array(float(value))]
  return (name.encode(), payload)


def expected(num_players, **points):
  """counts [P, E] from {event: {player: count}}."""
  out = np.zeros((num_players, len(events.EVENTS)), np.int32)
  for name, by_player in points.items():
    for p, n in by_player.items():
      out[p, events.INDEX[name]] = n
  return out


# Four players: 0 and 2 red, 1 and 3 blue (the substrate's parity rule).
TEAMS = [0, 1, 0, 1]


class CtfEventsTest(parameterized.TestCase, tf.test.TestCase):

  def test_decode_reads_dmlab2d_payloads(self):
    decoded = events.decode([raw('zap', source=2, target=3),
                             (b'AvatarStarted', [b'str', b'success'])])
    self.assertEqual(decoded[0], ('zap', {'source': 2, 'target': 3}))
    self.assertEqual(decoded[1], ('AvatarStarted', {'value': ['str', 'success']}))
    self.assertIsInstance(decoded[0][1]['source'], int)

  def test_flag_events_reach_player_teammates_and_opponents(self):
    step = events.decode([raw('flag_picked_up', player_index=1, team='red'),
                          raw('flag_captured', player_index=4, team='blue'),
                          raw('flag_returned', player_index=2, team='blue')])
    np.testing.assert_array_equal(events.attribute(step, TEAMS), expected(
        4,
        # Lua's player 1 is our 0 (red): its teammate is 2, its opponents 1, 3.
        picked_up={0: 1}, teammate_picked_up={2: 1}, opponent_picked_up={1: 1, 3: 1},
        # Player 4 is our 3 (blue).
        captured={3: 1}, teammate_captured={1: 1}, opponent_captured={0: 1, 2: 1},
        returned={1: 1}, teammate_returned={3: 1}, opponent_returned={0: 1, 2: 1}))

  def test_a_zap_followed_by_its_carrier_event_is_a_tag_with_the_flag(self):
    step = events.decode([
        raw('zap', source=1, target=2),                  # 0 tags 1, no flag
        raw('zap', source=3, target=4),                  # 2 tags 3 ...
        raw('zapped_flag_carrier', player_index=3),      # ... who carried the flag
        raw('zap', source=2, target=3),                  # 1 tags 2, no flag
    ])
    np.testing.assert_array_equal(events.attribute(step, TEAMS), expected(
        4, tagged_opponent={0: 1, 1: 1}, was_tagged={1: 1, 2: 1},
        tagged_opponent_with_flag={2: 1}, was_tagged_with_flag={3: 1}))

  def test_counts_add_up_over_repeated_events(self):
    step = events.decode([raw('flag_picked_up', player_index=2, team='blue')] * 3)
    counts = events.attribute(step, [0, 1])
    self.assertEqual(counts[1, events.INDEX['picked_up']], 3)
    self.assertEqual(counts[0, events.INDEX['opponent_picked_up']], 3)
    self.assertEqual(counts.sum(), 6)

  def test_events_without_game_points_count_nothing(self):
    step = events.decode([(b'AvatarStarted', [b'str', b'success'])])
    self.assertFalse(events.attribute(step, TEAMS).any())


  @parameterized.parameters(
      ([raw('flag_captured', player_index=5, team='red')], 'names player 5'),
      ([raw('zap', source=0, target=1)], 'names player 0'),
      ([raw('zapped_flag_carrier', player_index=1)], 'does not follow'),
      ([raw('zap', source=1, target=2), raw('zapped_flag_carrier', player_index=2)],
       'does not follow'),
  )
  def test_inconsistent_events_are_refused_by_name(self, bad, message):
    with self.assertRaisesRegex(ValueError, message):
      events.attribute(events.decode(bad), TEAMS)

  def test_arenas_are_checked(self):
    self.assertIsNone(maps.ascii_map('full', 8))
    self.assertIn('F', maps.ascii_map('small', 2))
    with self.assertRaisesRegex(ValueError, 'neither'):
      maps.ascii_map('tiny', 2)
    with self.assertRaisesRegex(ValueError, 'red flag'):
      maps.ascii_map('WWW\nWPQ\nWGW\n', 2)
    with self.assertRaisesRegex(ValueError, '4 blue spawn'):
      maps.ascii_map(maps.SMALL.replace('QQQGQQQ', 'QQ,G,,,'), 8)
    with self.assertRaisesRegex(ValueError, 'rectangle'):
      maps.ascii_map('WWWW\nWFGW\nWPQ\n', 2)


if __name__ == '__main__':
  tf.test.main()
