r"""The paper's Table 2 on tasks that learn in minutes: off-policy corrections
without and with experience replay, and under fixed policy lags.

  python benchmarks/paper_table2.py [--env=CartPole-v1] [--frames=250000] [--seeds=3]
      [--lags=0,4,16] [--out=benchmarks/results/paper_table2_<env name>]
      [--corrections=no_correction,epsilon_correction,one_step_is,vtrace]
      [--override=FIELD=VALUE ...]

For each correction (no_correction, epsilon_correction, one_step_is,
vtrace), trains `configs/cartpole.py` on --env:
  * as IMPALA (asynchronous actors, the lag the system gives), without and
    with experience replay (half of each batch replayed from the most
    recent unrolls, as the paper's "with replay" columns);
  * synchronous, with a fixed policy lag of k updates (--lags): every unroll
    acted by the weights of exactly k updates earlier (k = 0: on-policy).
Each setting over --seeds seeds; the score is the mean return of the last
100 episodes at the end of the budget. Prints the table (mean ± standard
deviation over seeds), writes <out>.json and <out>.png (return against
policy lag, one line per correction), and ends with one JSON line. With
--corrections naming a subset, only those rows are trained and the others are
read from the existing <out>.json of the same set-up (a row rerun after a
change to one correction), or left out where there is none. --override applies
a config override to every run (a variant of the whole table, under its own
--out).
"""

import json
import os
import statistics
import tempfile

from absl import app
from absl import flags

import train_runs  # benchmarks/train_runs.py, beside this script

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_ENV = flags.DEFINE_string('env', 'CartPole-v1', 'Gymnasium id of the task.')
_FRAMES = flags.DEFINE_integer('frames', 250_000, 'Frames per run.')
_SEEDS = flags.DEFINE_integer('seeds', 3, 'Seeds per setting.')
_LAGS = flags.DEFINE_list('lags', ['0', '4', '16'], 'Fixed policy lags to test.')
_CORRECTIONS = flags.DEFINE_list(
    'corrections', ['no_correction', 'epsilon_correction', 'one_step_is', 'vtrace'],
    'Corrections to train. Rows of the others are kept from an existing <out>.json '
    'of the same env, frames, seeds and lags, so that one row can be rerun.')
_OVERRIDES = flags.DEFINE_multi_string(
    'override', [], 'field=value: a config override for every run (e.g. vtrace_lambda=0.5); '
    'recorded in the JSON, and rows are kept only from a file with the same overrides.')
_OUT = flags.DEFINE_string('out', None, 'Output path prefix (.json, .png); default '
                           'benchmarks/results/paper_table2_<env name>, e.g. ..._cartpole.')

CORRECTIONS = ('no_correction', 'epsilon_correction', 'one_step_is', 'vtrace')


def settings():
  """(column name, overrides) of every column of the table."""
  out = [('no replay', []), ('replay', ['--config.replay_fraction=0.5'])]
  for lag in _LAGS.value:
    # Synchronous: 2 actors × 8 envs = the batch of 16, so that the lag is
    # exactly the one asked for.
    out.append((f'lag {lag}', ['--config.synchronous=true', f'--config.policy_lag={lag}']))
  return out


def train(correction, overrides, seed, attempts=2):
  """Final last-100 mean return of one run; a run that crashes is tried again once."""
  for attempt in range(attempts):
    try:
      return _train_once(correction, overrides, seed)
    except RuntimeError as e:
      if attempt == attempts - 1:
        raise
      print(f'retrying after a failed run: {str(e).splitlines()[0]}', flush=True)


def _train_once(correction, overrides, seed):
  with tempfile.TemporaryDirectory() as logdir:
    try:
      result = train_runs.train(logdir, [
          f'--config={os.path.join(_REPO, "configs", "cartpole.py")}',
          f'--config.env_id={_ENV.value}', f'--config.correction={correction}',
          f'--config.seed={seed}', f'--config.total_environment_frames={_FRAMES.value}',
          f'--config.lr_decay_frames={_FRAMES.value}',
          *[f'--config.{o}' for o in _OVERRIDES.value], *overrides])
    except RuntimeError as e:
      raise RuntimeError(f'{correction} {overrides} seed {seed}: {e}') from e
  return result['episode_return_mean']


def plot(results, path):
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  lags = [int(l) for l in _LAGS.value]
  fig, ax = plt.subplots(figsize=(7, 4.5))
  for correction in results:
    means = [statistics.mean(results[correction][f'lag {l}']) for l in lags]
    spread = [statistics.pstdev(results[correction][f'lag {l}']) for l in lags]
    ax.errorbar(lags, means, yerr=spread, marker='o', capsize=3, label=correction)
  ax.set_xlabel('policy lag (learner updates)')
  ax.set_ylabel(f'mean return, last 100 episodes ({_FRAMES.value:,} frames)')
  ax.set_title(_ENV.value)
  ax.grid(alpha=0.3)
  ax.legend()
  fig.tight_layout()
  fig.savefig(path, dpi=90)
  plt.close(fig)


def setup():
  """What a results file must share with this run for its rows to be kept."""
  return {'env': _ENV.value, 'frames': _FRAMES.value, 'seeds': _SEEDS.value,
          'lags': [int(l) for l in _LAGS.value], 'overrides': list(_OVERRIDES.value)}


def save(results, complete):
  os.makedirs(os.path.dirname(os.path.abspath(_OUT.value)), exist_ok=True)
  with open(_OUT.value + '.json', 'w') as f:
    json.dump({**setup(), 'complete': complete, 'results': results}, f)


def kept_rows():
  """Rows of corrections not trained now, from a complete <out>.json of this set-up."""
  others = [c for c in CORRECTIONS if c not in _CORRECTIONS.value]
  if not others:
    return {}
  path = _OUT.value + '.json'
  try:
    with open(path) as f:
      old = json.load(f)
  except FileNotFoundError:
    print(f'{path} does not exist: the table has only the rows of '
          f'{", ".join(_CORRECTIONS.value)}', flush=True)
    return {}
  # Files written before overrides were recorded had none.
  differs = {k: (old.get(k, [] if k == 'overrides' else None), v) for k, v in setup().items()
             if old.get(k, [] if k == 'overrides' else None) != v}
  columns = [c for c, _ in settings()]
  missing = [c for c in others if sorted(old['results'].get(c, {})) != sorted(columns)]
  if differs or missing:
    raise app.UsageError(f'{path} cannot supply the rows of {", ".join(others)}: '
                         + '; '.join(f'{k} is {a} there, {b} here' for k, (a, b) in differs.items())
                         + (f' incomplete rows: {", ".join(missing)}' if missing else ''))
  print(f'kept from {path}: {", ".join(others)}', flush=True)
  return {c: old['results'][c] for c in others}


def main(argv):
  del argv
  if _OUT.value is None:
    name = _ENV.value.split('/')[-1].split('-')[0].lower()   # 'CartPole-v1' -> 'cartpole'
    flags.FLAGS.out = os.path.join(_REPO, 'benchmarks', 'results', f'paper_table2_{name}')
  unknown = [c for c in _CORRECTIONS.value if c not in CORRECTIONS]
  if unknown:
    raise app.UsageError(f'--corrections: unknown {", ".join(unknown)}; '
                         f'choose from {", ".join(CORRECTIONS)}.')
  kept = kept_rows()
  # Rows in the table's order, whichever were trained and kept.
  results = {c: kept.get(c, {}) for c in CORRECTIONS if c in kept or c in _CORRECTIONS.value}
  for column, overrides in settings():
    for correction in _CORRECTIONS.value:
      scores = [train(correction, overrides, seed) for seed in range(_SEEDS.value)]
      results[correction][column] = scores
      print(f'{column:10s} {correction:20s} ' + ' '.join(f'{s:7.1f}' for s in scores),
            flush=True)
      save(results, complete=False)  # a long run stopped part-way keeps what it measured
  columns = [c for c, _ in settings()]
  print(f'\n{"correction":20s} ' + ' '.join(f'{c:>16s}' for c in columns))
  for correction in results:
    cells = [f'{statistics.mean(v):7.1f} ± {statistics.pstdev(v):5.1f}'
             for v in (results[correction][c] for c in columns)]
    print(f'{correction:20s} ' + ' '.join(f'{c:>16s}' for c in cells))
  save(results, complete=True)
  plot(results, _OUT.value + '.png')
  print(json.dumps({c: {col: round(statistics.mean(v), 1) for col, v in r.items()}
                    for c, r in results.items()}))


if __name__ == '__main__':
  app.run(main)
