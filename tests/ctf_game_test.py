"""Melting Pot's Capture the Flag as a multi-player game (impala_tf/ctf/game.py).

The `ctf` tier: needs the `ctf` install extra (docs/ftw.md), skipped with
one line without it. Real games of the substrate, played by seeded random
players; the events each player is credited with are checked against what
the game itself says (its rewards) and against the flags' carriers as the
events move them.
"""

import numpy as np
import pytest
import tensorflow as tf

pytest.importorskip('meltingpot', reason='Capture the Flag needs the ctf extra: '
                    'pip install -e .[ctf] (docs/ftw.md)')

from impala_tf.ctf import events  # noqa: E402  pylint: disable=g-import-not-at-top
from impala_tf.ctf import game  # noqa: E402  pylint: disable=g-import-not-at-top

E = events.INDEX


def play(g, steps, seed):
  """Random play: (observations, rewards, events) per step, and last flags."""
  rng = np.random.default_rng(seed)
  out = [g.reset()]
  rewards, counts, lasts = [], [], []
  for _ in range(steps):
    obs, r, e, last = g.step(rng.integers(0, g.num_actions, g.num_players))
    out.append(obs)
    rewards.append(r)
    counts.append(e)
    lasts.append(last)
    if last:
      out.append(g.reset())
  return out, np.array(rewards), np.array(counts), lasts


@pytest.mark.ctf
class CaptureTheFlagTest(tf.test.TestCase):

  def test_observations_pool_each_cell_to_its_mean_colour_rounded_half_up(self):
    raw = game.CaptureTheFlag(2, 'small', pool=False, seed=4)
    pooled = game.CaptureTheFlag(2, 'small', seed=4)
    try:
      self.assertEqual(raw.observation_shape, (88, 88, 3))
      self.assertEqual(pooled.observation_shape, (11, 11, 3))
      observations, _, _, _ = play(pooled, 5, seed=1)
      self.assertEqual(observations[-1].shape, (2, 11, 11, 3))
      self.assertEqual(observations[-1].dtype, np.uint8)
      frames, _, _, _ = play(raw, 30, seed=1)
    finally:
      raw.close()
      pooled.close()
    for frame in frames:
      expected = np.zeros((2, 11, 11, 3))
      for i in range(11):
        for j in range(11):
          expected[:, i, j] = frame[:, 8 * i:8 * i + 8, 8 * j:8 * j + 8].mean(axis=(1, 2))
      self.assertAllEqual(game.pool_cells(frame), np.floor(expected + 0.5).astype(np.uint8))
    # Cells are not all one colour: pooling keeps what the view shows.
    self.assertGreater(len(np.unique(game.pool_cells(frames[-1]).reshape(-1, 3), axis=0)), 3)

  def test_episodes_end_after_their_steps(self):
    g = game.CaptureTheFlag(2, 'small', episode_steps=40)
    try:
      _, _, _, lasts = play(g, 100, seed=0)
    finally:
      g.close()
    self.assertEqual([i for i, last in enumerate(lasts) if last], [39, 79])

  def test_bad_actions_are_refused_by_name(self):
    g = game.CaptureTheFlag(2, 'small')
    try:
      g.reset()
      with self.assertRaisesRegex(ValueError, 'one action per player'):
        g.step([0, 1, 2])
      with self.assertRaisesRegex(ValueError, r'in \[0, 9\)'):
        g.step([0, 9])
    finally:
      g.close()
    with self.assertRaisesRegex(ValueError, 'even'):
      game.CaptureTheFlag(3)

  def test_credited_events_agree_with_the_games_rewards_and_the_flags_carriers(self):
    """Two against two on the small arena, random play: 4 episodes of 250
    steps, and more until the games hold a capture and a flag carrier
    tagged (Melting Pot's games do not repeat from a seed, so the test
    plays until what it checks has happened, up to 60 episodes)."""
    g = game.CaptureTheFlag(4, 'small', episode_steps=250)
    runs = []
    try:
      for episode in range(60):
        runs.append(play(g, 250, seed=episode)[1:])
        totals = sum(run[1].sum(axis=(0, 1)) for run in runs)
        if (episode >= 3 and totals[E['captured']] >= 1
            and totals[E['tagged_opponent_with_flag']] >= 1):
          break
    finally:
      g.close()
    self.assertGreaterEqual(totals[E['captured']], 1, totals)
    self.assertGreaterEqual(totals[E['tagged_opponent_with_flag']], 1, totals)
    rewards, counts, lasts = (np.concatenate([run[i] for run in runs]) for i in range(3))
    teams = g.teams
    carriers = {}  # player -> carrying the opponents' flag
    for step, (r, c) in enumerate(zip(rewards, counts)):
      by_team = [c[teams == t, E['captured']].sum() for t in (0, 1)]
      for p in range(4):
        own, other = by_team[teams[p]], by_team[1 - teams[p]]
        # The substrate's zero-sum team reward: +1 per own capture, -1 per theirs.
        assert r[p] == own - other, (step, p, r, c)
        mates = (teams == teams[p]) & (np.arange(4) != p)
        assert c[p, E['teammate_captured']] == c[mates, E['captured']].sum()
        assert c[p, E['opponent_captured']] == other
        assert c[p, E['opponent_picked_up']] == c[teams != teams[p], E['picked_up']].sum()
        # Tags only cross teams: mine equal the opponents' "was tagged".
      for with_flag, tagged in (('tagged_opponent_with_flag', 'was_tagged_with_flag'),
                                ('tagged_opponent', 'was_tagged')):
        for t in (0, 1):
          assert (c[teams == t, E[with_flag]].sum() == c[teams != t, E[tagged]].sum()), (step, c)
      # Carriers, as the events move the flags (a pick-up comes first within a
      # step: a tagged player is out until it respawns).
      for p in range(4):
        if c[p, E['picked_up']]:
          carriers[p] = True
        if c[p, E['was_tagged_with_flag']]:
          assert carriers.pop(p, False), (step, p, 'tagged with a flag it did not carry')
        if c[p, E['was_tagged']]:
          assert p not in carriers, (step, p, 'a carrier tagged without its flag')
        if c[p, E['captured']]:
          assert carriers.pop(p, False), (step, p, 'captured without carrying')
      if lasts[step]:
        carriers.clear()


if __name__ == '__main__':
  tf.test.main()
