r"""Random play in Melting Pot's Capture the Flag: what a learner starts from.

  python benchmarks/ctf_random.py [--arenas=small,full] [--players=2,8]
      [--episodes=20] [--episode_steps=1000]

For each arena and player count, plays --episodes episodes with every
player drawing uniform random actions (`impala_tf.ctf.game`, pooled
observations) and prints the captures per episode (both teams together),
the flag pick-ups and tag-outs per episode, and the game's steps per second
on one core (the game alone, no agent). Needs the `ctf` install extra
(docs/ftw.md). The last line is JSON: one entry per "<arena>/<players>".
"""

import argparse
import json
import time

import numpy as np

from impala_tf.ctf import events as events_lib
from impala_tf.ctf import game


def measure(arena, players, episodes, episode_steps, seed):
  g = game.CaptureTheFlag(players, arena, episode_steps=episode_steps, seed=seed)
  rng = np.random.default_rng(seed)
  totals = np.zeros(len(events_lib.EVENTS), np.int64)
  per_episode_captures = []
  steps = 0
  start = time.perf_counter()
  try:
    for _ in range(episodes):
      g.reset()
      captured = 0
      while True:
        _, _, counts, last = g.step(rng.integers(0, g.num_actions, players))
        steps += 1
        totals += counts.sum(axis=0)
        captured += int(counts[:, events_lib.INDEX['captured']].sum())
        if last:
          break
      per_episode_captures.append(captured)
  finally:
    g.close()
  seconds = time.perf_counter() - start
  e = events_lib.INDEX
  return {
      'episodes': episodes,
      'captures_per_episode': float(np.mean(per_episode_captures)),
      'episodes_with_a_capture': int(np.count_nonzero(per_episode_captures)),
      'pickups_per_episode': float(totals[e['picked_up']] / episodes),
      'tags_per_episode': float((totals[e['tagged_opponent']]
                                 + totals[e['tagged_opponent_with_flag']]) / episodes),
      'steps_per_second': steps / seconds,
  }


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
  parser.add_argument('--arenas', default='small,full')
  parser.add_argument('--players', default='2,8')
  parser.add_argument('--episodes', type=int, default=20)
  parser.add_argument('--episode_steps', type=int, default=1000)
  parser.add_argument('--seed', type=int, default=0)
  args = parser.parse_args()
  results = {}
  for arena in args.arenas.split(','):
    for players in (int(p) for p in args.players.split(',')):
      r = measure(arena, players, args.episodes, args.episode_steps, args.seed)
      results[f'{arena}/{players}'] = r
      print(f'{arena:>6} {players} players: {r["captures_per_episode"]:.2f} captures per episode '
            f'({r["episodes_with_a_capture"]} of {r["episodes"]} episodes with one), '
            f'{r["pickups_per_episode"]:.1f} pick-ups, {r["tags_per_episode"]:.1f} tag-outs; '
            f'{r["steps_per_second"]:.0f} steps/s', flush=True)
  print(json.dumps(results))


if __name__ == '__main__':
  main()
