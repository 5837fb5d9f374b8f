r"""Multi-task benchmark: one agent on several Atari games against single-task runs.

  python benchmarks/multitask.py --frames=6000000 \
      [--preset=configs/atari_multitask.py] [--override=FIELD=VALUE ...] \
      [--single_task=benchmarks/results/multigame_5m.json] \
      [--out=benchmarks/results/multitask_6m]

Trains the preset once with `binaries/train_local.py` to `--frames` frames in
all (a finished run directory is read, not run again), then reads each
game's return curve from the run's summaries (`<task>/episode_return`). A
game's frames are counted as the run's frames / the number of games (one
actor per game, all at the same speed). At 1/4, 1/2, 3/4 and all of each
game's share it reports the multi-task return, the single-task return of
the same game at the same frames (from `--single_task`, a JSON written by
benchmarks/atari_learning.py), both human-normalised, and their ratio.

Writes `<out>.json`, `<out>.png` (per game: return against that game's
frames, this run, the runs of `--plot_with` JSONs and the single-task run)
and ends with one JSON line: per game, the final
human-normalised scores (multi-task, single-task) and their ratio; the
median human-normalised score of the multi-task agent; and whether the
goal holds (median ≥ 0.35 and every game ≥ 0.7× its single-task score).
"""

import json
import os
import statistics

from absl import app
from absl import flags

from impala_tf import atari_scores
from impala_tf import config as config_lib
from impala_tf import curves
import train_runs  # benchmarks/train_runs.py, beside this script

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

_PRESET = flags.DEFINE_string('preset', os.path.join(_REPO, 'configs', 'atari_multitask.py'),
                              'The multi-task preset.')
_FRAMES = flags.DEFINE_integer('frames', 6_000_000, 'Environment frames in all (every game).')
_OVERRIDES = flags.DEFINE_multi_string('override', [], 'FIELD=VALUE for the run (repeatable).')
_SINGLE = flags.DEFINE_string(
    'single_task', os.path.join(_REPO, 'benchmarks', 'results', 'multigame_5m.json'),
    'Single-task curves (benchmarks/atari_learning.py output) to compare with.')
_SINGLE_PRESET = flags.DEFINE_string('single_task_preset', 'atari',
                                     'Which preset of --single_task to compare with.')
_WORKDIR = flags.DEFINE_string('workdir', os.path.join(_REPO, 'runs', 'multitask'),
                               'Where the run lives (reused across invocations).')
_PLOT_WITH = flags.DEFINE_multi_string(
    'plot_with', [], 'Other multi-task JSONs (this script\'s output) to draw beside this run.')
_OUT = flags.DEFINE_string('out', os.path.join(_REPO, 'benchmarks', 'results', 'multitask'),
                           'Output path prefix for the .json file.')

# The goal of the multi-task agent (issue 17): median human-normalised score
# and each game's share of its single-task score.
GOAL_MEDIAN = 0.35
GOAL_RATIO = 0.7


def main(argv):
  del argv
  config = config_lib.load_config_file(_PRESET.value)
  suffix = '_'.join(o.replace('=', '-') for o in _OVERRIDES.value)
  logdir = os.path.join(_WORKDIR.value, f'{os.path.basename(_PRESET.value)[:-3]}'
                        f'{"_" + suffix if suffix else ""}_{_FRAMES.value}')
  result = train_runs.train(logdir, [
      f'--config={_PRESET.value}', f'--config.total_environment_frames={_FRAMES.value}',
      *[f'--config.{o}' for o in _OVERRIDES.value]])
  with open(_SINGLE.value) as f:
    single_runs = [r for r in json.load(f)['runs'] if r['preset'] == _SINGLE_PRESET.value]
  per_game_frames = _FRAMES.value / config.num_tasks
  budgets = [per_game_frames * q for q in (0.25, 0.5, 0.75, 1.0)]
  games = {}
  for name, env_id in zip(config.task_names, config.task_ids):
    game = env_id.split('/')[1].split('-')[0]
    frames, _, values = curves.read_scalar(logdir, f'{name}/episode_return')
    frames = (frames / config.num_tasks).tolist()
    single = next((r for r in single_runs if r['game'] == game), None)
    rows = []
    for budget in budgets:
      multi = curves.value_at(frames, values.tolist(), budget)
      one = curves.value_at(single['frames'], single['returns'], budget) if single else None
      hn = lambda x: None if x is None else atari_scores.human_normalized(env_id, x)
      ratio = (hn(multi) / hn(one) if multi is not None and one is not None and hn(one) > 0
               else None)
      rows.append(dict(frames_per_game=budget, multitask_return=multi, single_task_return=one,
                       multitask_hn=hn(multi), single_task_hn=hn(one), ratio=ratio))
      print(f'{game:14s} {budget / 1e6:4.1f}M frames: multi-task {multi} '
            f'(hn {hn(multi)}), single-task {one} (hn {hn(one)}), ratio {ratio}', flush=True)
    games[game] = dict(rows=rows, curve_frames_per_game=frames, curve_returns=values.tolist())
  finals = {g: d['rows'][-1] for g, d in games.items()}
  scores = [r['multitask_hn'] for r in finals.values()]
  median = statistics.median(scores) if all(s is not None for s in scores) else None
  ratios = [r['ratio'] for r in finals.values()]
  summary = {
      'frames': _FRAMES.value,
      'frames_per_game': per_game_frames,
      'overrides': _OVERRIDES.value,
      'multitask_hn': {g: r['multitask_hn'] for g, r in finals.items()},
      'single_task_hn': {g: r['single_task_hn'] for g, r in finals.items()},
      'ratio': {g: r['ratio'] for g, r in finals.items()},
      'median_hn': median,
      'goal_met': bool(median is not None and median >= GOAL_MEDIAN
                       and all(r is not None and r >= GOAL_RATIO for r in ratios)),
      'wall_seconds': result.get('wall_seconds'),
  }
  os.makedirs(os.path.dirname(_OUT.value) or '.', exist_ok=True)
  with open(f'{_OUT.value}.json', 'w') as f:
    json.dump(dict(summary=summary, command=result.get('command'), games=games), f)
  plot(games, single_runs, f'{_OUT.value}.png')
  print(json.dumps(summary))


def plot(games, single_runs, path):
  """Return against each game's frames: this run, `--plot_with` runs, single-task."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  runs = [(os.path.basename(_OUT.value), games)]
  for other in _PLOT_WITH.value:
    with open(other) as f:
      runs.append((os.path.basename(other)[:-5], json.load(f)['games']))
  fig, axes = plt.subplots(1, len(games), figsize=(5 * len(games), 4), squeeze=False)
  for ax, game in zip(axes[0], games):
    for label, run in runs:
      if game in run:
        ax.plot([x / 1e6 for x in run[game]['curve_frames_per_game']],
                run[game]['curve_returns'], label=f'multi-task: {label}')
    single = next((r for r in single_runs if r['game'] == game), None)
    if single:
      ax.plot([x / 1e6 for x in single['frames']], single['returns'], 'k--',
              label='single-task')
    ax.set_xlim(0, max(g['curve_frames_per_game'][-1] for g in games.values()) / 1e6)
    ax.set_title(game)
    ax.set_xlabel("frames of this game (millions)")
    ax.set_ylabel('mean return, last 100 episodes')
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
  fig.tight_layout()
  fig.savefig(path, dpi=90)
  plt.close(fig)


if __name__ == '__main__':
  app.run(main)
