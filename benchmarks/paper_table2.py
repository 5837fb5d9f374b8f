r"""The paper's Table 2 on tasks that learn in minutes: off-policy corrections
without and with experience replay, and under fixed policy lags.

  python benchmarks/paper_table2.py [--env=CartPole-v1] [--frames=250000] [--seeds=3]
      [--lags=0,4,16] [--out=benchmarks/results/paper_table2]

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
policy lag, one line per correction), and ends with one JSON line.
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile

from absl import app
from absl import flags

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_ENV = flags.DEFINE_string('env', 'CartPole-v1', 'Gymnasium id of the task.')
_FRAMES = flags.DEFINE_integer('frames', 250_000, 'Frames per run.')
_SEEDS = flags.DEFINE_integer('seeds', 3, 'Seeds per setting.')
_LAGS = flags.DEFINE_list('lags', ['0', '4', '16'], 'Fixed policy lags to test.')
_OUT = flags.DEFINE_string('out', os.path.join(_REPO, 'benchmarks', 'results', 'paper_table2'),
                           'Output path prefix (.json, .png).')

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
    proc = subprocess.run(
        [sys.executable, os.path.join(_REPO, 'binaries', 'train_local.py'),
         f'--config={os.path.join(_REPO, "configs", "cartpole.py")}', f'--logdir={logdir}',
         f'--config.env_id={_ENV.value}', f'--config.correction={correction}',
         f'--config.seed={seed}', f'--config.total_environment_frames={_FRAMES.value}',
         f'--config.lr_decay_frames={_FRAMES.value}', *overrides],
        capture_output=True, text=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL='3'),
        check=False)
  lines = [l for l in proc.stdout.splitlines() if l.startswith('{')]
  if proc.returncode != 0 or not lines:
    raise RuntimeError(f'{correction} {overrides} seed {seed} failed:\n{proc.stdout[-2000:]}')
  return json.loads(lines[-1])['episode_return_mean']


def plot(results, path):
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  lags = [int(l) for l in _LAGS.value]
  fig, ax = plt.subplots(figsize=(7, 4.5))
  for correction in CORRECTIONS:
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


def save(results, complete):
  os.makedirs(os.path.dirname(os.path.abspath(_OUT.value)), exist_ok=True)
  with open(_OUT.value + '.json', 'w') as f:
    json.dump({'env': _ENV.value, 'frames': _FRAMES.value, 'seeds': _SEEDS.value,
               'lags': [int(l) for l in _LAGS.value], 'complete': complete,
               'results': results}, f)


def main(argv):
  del argv
  results = {c: {} for c in CORRECTIONS}
  for column, overrides in settings():
    for correction in CORRECTIONS:
      scores = [train(correction, overrides, seed) for seed in range(_SEEDS.value)]
      results[correction][column] = scores
      print(f'{column:10s} {correction:20s} ' + ' '.join(f'{s:7.1f}' for s in scores),
            flush=True)
      save(results, complete=False)  # a long run stopped part-way keeps what it measured
  columns = [c for c, _ in settings()]
  print(f'\n{"correction":20s} ' + ' '.join(f'{c:>16s}' for c in columns))
  for correction in CORRECTIONS:
    cells = [f'{statistics.mean(v):7.1f} ± {statistics.pstdev(v):5.1f}'
             for v in (results[correction][c] for c in columns)]
    print(f'{correction:20s} ' + ' '.join(f'{c:>16s}' for c in cells))
  save(results, complete=True)
  plot(results, _OUT.value + '.png')
  print(json.dumps({c: {col: round(statistics.mean(v), 1) for col, v in r.items()}
                    for c, r in results.items()}))


if __name__ == '__main__':
  app.run(main)
