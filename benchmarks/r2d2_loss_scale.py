r"""R2D2's loss reduction side by side: summed over time (Acme, seed_rl) against
the mean over trained steps, over seeds, on a task that learns in minutes.

  python benchmarks/r2d2_loss_scale.py [--preset=configs/r2d2_cartpole_pomdp.py] \
      [--reductions=sum_over_time,mean] [--seeds=3] [--episodes=100] \
      [--override=FIELD=VALUE ...] [--out=benchmarks/results/r2d2_loss_scale]

Trains the preset once per (seed, reduction), seed by seed, so a stopped
benchmark leaves whole pairs; each run is `binaries/train_local.py` with
`--config.r2d2.loss_reduction=<reduction>` and `--config.seed=<seed>` to
the preset's frame budget, then its greedy export is evaluated over
--episodes episodes. A run that finished is read back, not run again
(benchmarks/train_runs.py), and so is its evaluation.

Per run it reports the actors' mean return (last 100 episodes, every ε) at
the end and at a quarter and half of the budget, the greedy end of the ε
ladder's return (`episode_return_greedy_end`), the greedy export's mean
return, the wall-clock seconds, and the median over the run of the
gradients' RMS over Adam's ε (the median over variables, and the smallest
variable's): whether ε damps the updates. Writes <out>.json after each run
and ends with one JSON line: per reduction, medians over seeds.
"""

import json
import os
import statistics

from absl import app
from absl import flags

from impala_tf import curves
import train_runs  # benchmarks/train_runs.py, beside this script

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_PRESET = flags.DEFINE_string('preset',
                              os.path.join(_REPO, 'configs', 'r2d2_cartpole_pomdp.py'),
                              'The R2D2 preset to train.')
_REDUCTIONS = flags.DEFINE_list('reductions', ['sum_over_time', 'mean'],
                                'Values of r2d2.loss_reduction to compare.')
_SEEDS = flags.DEFINE_integer('seeds', 3, 'Seeds per reduction (first_seed, first_seed + 1, ...).')
_FIRST_SEED = flags.DEFINE_integer('first_seed', 0, 'The first seed.')
_EPISODES = flags.DEFINE_integer('episodes', 100, 'Episodes of the greedy evaluation.')
_OVERRIDES = flags.DEFINE_multi_string('override', [],
                                       'FIELD=VALUE applied to every run (repeatable).')
_WORKDIR = flags.DEFINE_string('workdir', os.path.join(_REPO, 'runs', 'r2d2_loss_scale'),
                               'Where the runs live (a finished run is read back).')
_OUT = flags.DEFINE_string('out', os.path.join(_REPO, 'benchmarks', 'results',
                                               'r2d2_loss_scale'),
                           'Output path prefix (.json).')

_EVAL_FILE = 'greedy_eval.json'


def _run_dir(reduction, seed):
  preset = os.path.splitext(os.path.basename(_PRESET.value))[0]
  suffix = '_'.join(o.replace('=', '-') for o in _OVERRIDES.value)
  return os.path.join(_WORKDIR.value,
                      f'{preset}{"_" + suffix if suffix else ""}_{reduction}_s{seed}')


def _greedy_eval(logdir):
  """The greedy export's mean return over --episodes (read back if done)."""
  path = os.path.join(logdir, _EVAL_FILE)
  if os.path.exists(path):
    with open(path) as f:
      result = json.load(f)
    if result.get('episodes') == _EPISODES.value:
      return result
  from impala_tf import evaluation  # pylint: disable=g-import-not-at-top
  result = evaluation.evaluate(os.path.join(logdir, 'saved_model', 'greedy'),
                               _EPISODES.value, seed=12345)
  result = {'episodes': _EPISODES.value, 'mean_return': result['return_mean'],
            'median_return': result['return_median']}
  with open(path, 'w') as f:
    json.dump(result, f)
  return result


def _scalar(logdir, tag):
  """(frames, values) of a summary, or ([], []) if the run wrote none."""
  try:
    frames, _, values = curves.read_scalar(logdir, tag)
  except ValueError:
    return [], []
  return frames.tolist(), values.tolist()


def _run(reduction, seed):
  logdir = _run_dir(reduction, seed)
  result = train_runs.train(logdir, [
      f'--config={_PRESET.value}', f'--config.seed={seed}',
      f'--config.r2d2.loss_reduction={reduction}',
      *[f'--config.{o}' for o in _OVERRIDES.value]])
  frames, returns = _scalar(logdir, 'episode_return')
  budget = result['env_frames']
  at = lambda fraction: curves.value_at(frames, returns, fraction * budget)
  _, greedy_end = _scalar(logdir, 'episode_return_greedy_end')
  _, rms_median = _scalar(logdir, 'optimizer/grad_rms_over_epsilon_median')
  _, rms_min = _scalar(logdir, 'optimizer/grad_rms_over_epsilon_min')
  return {
      'reduction': reduction, 'seed': seed, 'command': result['command'],
      'frames': budget, 'wall_seconds': result['wall_seconds'],
      'return_quarter': at(0.25), 'return_half': at(0.5),
      'return_final': result['episode_return_mean'],
      'return_greedy_end_final': greedy_end[-1] if greedy_end else None,
      'greedy_eval': _greedy_eval(logdir)['mean_return'],
      'grad_rms_over_epsilon_median': statistics.median(rms_median) if rms_median else None,
      'grad_rms_over_epsilon_min': statistics.median(rms_min) if rms_min else None,
      'curve': {'frames': frames, 'returns': returns},
  }


def _median(values):
  values = [v for v in values if v is not None]
  return statistics.median(values) if values else None


def _summary(runs):
  keys = ('return_quarter', 'return_half', 'return_final', 'return_greedy_end_final',
          'greedy_eval', 'wall_seconds', 'grad_rms_over_epsilon_median',
          'grad_rms_over_epsilon_min')
  out = {}
  for reduction in _REDUCTIONS.value:
    mine = [r for r in runs if r['reduction'] == reduction]
    out[reduction] = {'seeds': len(mine), **{k: _median([r[k] for r in mine]) for k in keys}}
  return out


def _write(runs, complete):
  os.makedirs(os.path.dirname(os.path.abspath(_OUT.value)), exist_ok=True)
  with open(_OUT.value + '.json', 'w') as f:
    json.dump({'preset': _PRESET.value, 'overrides': _OVERRIDES.value, 'complete': complete,
               'runs': runs, 'median': _summary(runs)}, f)


def main(argv):
  del argv
  runs = []
  for seed in range(_FIRST_SEED.value, _FIRST_SEED.value + _SEEDS.value):
    for reduction in _REDUCTIONS.value:
      run = _run(reduction, seed)
      runs.append(run)
      _write(runs, complete=False)
      print(f"{reduction:>14} seed {seed}: actors {run['return_final']}, greedy end "
            f"{run['return_greedy_end_final']}, greedy export {run['greedy_eval']:.1f}, "
            f"rms/eps median {run['grad_rms_over_epsilon_median']}, "
            f"{run['wall_seconds']:.0f} s", flush=True)
  _write(runs, complete=True)
  summary = _summary(runs)
  for reduction, s in summary.items():
    print(f'{reduction:>14}: median over {s["seeds"]} seeds: {s}', flush=True)
  print(json.dumps({'benchmark': 'r2d2_loss_scale', 'preset': _PRESET.value,
                    'overrides': _OVERRIDES.value, 'median': summary}))


if __name__ == '__main__':
  app.run(main)
