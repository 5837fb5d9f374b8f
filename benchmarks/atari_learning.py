r"""Learning benchmark: Atari games trained to a frame budget, return against frames and time.

  python benchmarks/atari_learning.py --games=Pong,Breakout,SpaceInvaders \
      --frames=10000000 --seeds=1 --preset=configs/atari.py \
      [--preset=configs/atari_paper.py] [--override=FIELD=VALUE ...] \
      [--targets=Pong:18] [--out=benchmarks/results/atari_10m]

Runs `binaries/train_local.py` once per (preset, game, seed), one after the
other (each run needs the whole machine), with `--config.env_id=ALE/<Game>-v5`,
`--config.seed=<seed>` and `--config.total_environment_frames=<frames>`.
A run directory that already finished its budget is read, not run again, so
an interrupted benchmark resumes where it stopped (`--workdir`); a run
stopped part-way starts afresh (benchmarks/train_runs.py).

Writes `<out>.json` after every run (`complete` is false until the last):
every run's curve (frames, seconds since launch, mean return of the last
100 episodes), its returns at fixed frame budgets and the frames and
seconds at which each target is first reached. At the end it writes
`<out>.png` (one column per game: return against frames and against
minutes, one line per preset and seed), and ends with one JSON line: per
preset and game, the median over seeds of the final and the best return, of
the return at each budget, and of the frames and minutes to each target (a
seed that never reached it counts as infinitely slow; a median that is
infinite is null).
"""

import json
import math
import os
import statistics

from absl import app
from absl import flags

from impala_tf import curves
import train_runs  # benchmarks/train_runs.py, beside this script

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

_GAMES = flags.DEFINE_list('games', ['Pong'], 'Atari games (ALE names, e.g. Pong,Breakout).')
_FRAMES = flags.DEFINE_integer('frames', 10_000_000, 'Environment frames per run.')
_SEEDS = flags.DEFINE_integer('seeds', 1, 'Seeds per game (first_seed, first_seed + 1, ...).')
_FIRST_SEED = flags.DEFINE_integer('first_seed', 0, 'The first seed of each game.')
_PRESETS = flags.DEFINE_multi_string('preset', [os.path.join(_REPO, 'configs', 'atari.py')],
                                     'Preset file(s) to compare (repeat the flag).')
_OVERRIDES = flags.DEFINE_multi_string('override', [],
                                       'FIELD=VALUE applied to every run (repeatable).')
_TARGETS = flags.DEFINE_list('targets', ['Pong:18', 'Pong:20'],
                             'GAME:RETURN pairs (a game may have several); the frames and '
                             'seconds at which the mean return first reaches each are reported.')
_BUDGETS = flags.DEFINE_list('budgets', ['1000000', '2000000', '4000000', '8000000', '10000000'],
                             'Frame budgets at which returns are reported.')
_WORKDIR = flags.DEFINE_string('workdir', os.path.join(_REPO, 'runs', 'atari_learning'),
                               'Where the runs live (reused across invocations).')
_OUT = flags.DEFINE_string('out', os.path.join(_REPO, 'benchmarks', 'results', 'atari_learning'),
                           'Output path prefix for the .json and .png files.')


def _label(preset):
  return os.path.splitext(os.path.basename(preset))[0]


def _run_dir(preset, game, seed):
  suffix = '_'.join(o.replace('=', '-') for o in _OVERRIDES.value)
  name = f'{_label(preset)}{"_" + suffix if suffix else ""}_{game}_s{seed}_{_FRAMES.value}'
  return os.path.join(_WORKDIR.value, name)


def train(preset, game, seed, logdir):
  """Runs one training to the frame budget; returns its result dict."""
  return train_runs.train(logdir, [
      f'--config={preset}', f'--config.env_id=ALE/{game}-v5', f'--config.seed={seed}',
      f'--config.total_environment_frames={_FRAMES.value}',
      *[f'--config.{o}' for o in _OVERRIDES.value]])


def curve(logdir, launch_time):
  """(frames, seconds since launch, returns) from the run's summaries."""
  frames, wall, values = curves.read_scalar(logdir, 'episode_return', absolute_time=True)
  return frames.tolist(), (wall - launch_time).tolist(), values.tolist()


def first_reaching(frames, seconds, values, target):
  for f, s, v in zip(frames, seconds, values):
    if v >= target:
      return f, s
  return None, None


def _median(values):
  values = [v for v in values if v is not None]
  return statistics.median(values) if values else None


def plot(runs, path):
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  games = list(dict.fromkeys(r['game'] for r in runs))
  fig, axes = plt.subplots(2, len(games), figsize=(5 * len(games), 7.5), squeeze=False)
  colours = {}
  for r in runs:
    colour = colours.setdefault(r['preset'], f'C{len(colours)}')
    col = games.index(r['game'])
    for row, xs, scale in ((0, r['frames'], 1e6), (1, r['seconds'], 60.0)):
      axes[row][col].plot([x / scale for x in xs], r['returns'], color=colour, alpha=0.8,
                          linestyle=('-', '--', ':', '-.')[r['seed'] % 4],
                          label=f"{r['preset']} s{r['seed']}")
  for col, game in enumerate(games):
    axes[0][col].set_title(game)
    axes[0][col].set_xlabel('environment frames (millions)')
    axes[1][col].set_xlabel('wall-clock minutes since launch')
    for row in (0, 1):
      axes[row][col].set_ylabel('mean return, last 100 episodes')
      axes[row][col].grid(alpha=0.3)
      axes[row][col].legend(fontsize=7)
  fig.tight_layout()
  fig.savefig(path, dpi=90)
  plt.close(fig)


def _write(runs, complete):
  os.makedirs(os.path.dirname(os.path.abspath(_OUT.value)), exist_ok=True)
  with open(_OUT.value + '.json', 'w') as f:
    json.dump({'frames': _FRAMES.value, 'overrides': _OVERRIDES.value, 'complete': complete,
               'runs': runs}, f)


def main(argv):
  del argv
  budgets = [int(b) for b in _BUDGETS.value if int(b) <= _FRAMES.value]
  targets = {}
  for t in _TARGETS.value:
    if t:
      game, value = t.split(':')
      targets.setdefault(game, []).append(float(value))
  runs = []
  for preset in _PRESETS.value:
    for game in _GAMES.value:
      for seed in range(_FIRST_SEED.value, _FIRST_SEED.value + _SEEDS.value):
        logdir = _run_dir(preset, game, seed)
        result = train(preset, game, seed, logdir)
        frames, seconds, values = curve(logdir, result['launch_time'])
        run = {'preset': _label(preset), 'game': game, 'seed': seed, 'logdir': logdir,
               'frames': frames, 'seconds': seconds, 'returns': values,
               'final_return': values[-1], 'wall_seconds': result['wall_seconds'],
               'frames_per_second': result['frames_per_second'],
               'return_at': {str(b): curves.value_at(frames, values, b) for b in budgets}}
        run['max_return'] = max(values)
        run['frames_to'], run['seconds_to'] = {}, {}
        for target in targets.get(game, []):
          run['frames_to'][str(target)], run['seconds_to'][str(target)] = first_reaching(
              frames, seconds, values, target)
        print(f"{run['preset']:12s} {game:14s} seed {seed}: final {values[-1]:8.2f} after "
              f"{frames[-1]:,} frames, {result['wall_seconds'] / 60:.1f} min; at budgets "
              + ', '.join(f'{int(b) / 1e6:g}M: {v if v is None else round(v, 2)}'
                          for b, v in run['return_at'].items())
              + ''.join(f'; {t} first at {f / 1e6:.2f}M frames, {s / 60:.1f} min'
                        if f is not None else f'; {t} not reached'
                        for (t, f), s in zip(run['frames_to'].items(),
                                             run['seconds_to'].values())), flush=True)
        runs.append(run)
        # Each run's result as soon as it ends: a benchmark stopped later
        # keeps it (and, rerun, reads the finished runs back).
        _write(runs, complete=False)
  _write(runs, complete=True)
  plot(runs, _OUT.value + '.png')
  summary = {}
  for preset in dict.fromkeys(r['preset'] for r in runs):
    for game in _GAMES.value:
      mine = [r for r in runs if r['preset'] == preset and r['game'] == game]
      entry = {'final_return': _median([r['final_return'] for r in mine]),
               'max_return': _median([r['max_return'] for r in mine]),
               'return_at': {b: _median([r['return_at'][b] for r in mine])
                             for b in mine[0]['return_at']},
               # The spread over seeds: [lowest, highest] at each budget.
               'return_at_range': {b: _range([r['return_at'][b] for r in mine])
                                   for b in mine[0]['return_at']},
               'minutes': _median([r['wall_seconds'] / 60 for r in mine]),
               'seeds': len(mine)}
      # A seed that never reached a target counts as infinitely slow.
      entry['frames_to'] = {t: _inf_median([r['frames_to'][t] for r in mine])
                            for t in mine[0]['frames_to']}
      entry['minutes_to'] = {
          t: _inf_median([None if r['seconds_to'][t] is None else r['seconds_to'][t] / 60
                          for r in mine])
          for t in mine[0]['seconds_to']}
      summary[f'{preset}/{game}'] = entry
  print(f'wrote {_OUT.value}.json and {_OUT.value}.png')
  print(json.dumps(summary))


def _range(values):
  values = [v for v in values if v is not None]
  return [min(values), max(values)] if values else None


def _inf_median(values):
  """Median where None (never reached) is +inf; None if the median is inf."""
  value = statistics.median([math.inf if v is None else v for v in values])
  return None if math.isinf(value) else value


if __name__ == '__main__':
  app.run(main)
