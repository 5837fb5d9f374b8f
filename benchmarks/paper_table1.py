r"""The paper's Table 1 on this machine: frames/s of A3C, batched A2C and IMPALA.

  python benchmarks/paper_table1.py [--seconds=100] [--repeats=2]

Every architecture runs the same configuration (configs/atari_paper.py: the
paper's shallow network on Pong, its Table G.1 settings, 2 actors × 16
environments), through the same binary (`train_local.py`) with one config
field changed:

  a3c            --config.architecture=a3c: actors send gradients
  a2c_sync_step  --config.architecture=a2c_sync_step: one process, lockstep
  a2c_sync_traj  --config.synchronous=true: actors wait for each update
  impala         the default

Runs are interleaved (a3c, a2c_sync_step, a2c_sync_traj, impala, then again)
so that the machine's drift affects all alike; each run's figure is the
median of the learner's 5 s frame-rate readings after a warm-up, and each
architecture's the median over its runs. Prints the table and a final JSON
line {architecture: frames/s}.
"""

import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

from absl import app
from absl import flags

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_SECONDS = flags.DEFINE_integer('seconds', 100, 'Seconds per run (warm-up included).')
_WARMUP = flags.DEFINE_integer('warmup', 40, 'Seconds of each run not measured.')
_REPEATS = flags.DEFINE_integer('repeats', 2, 'Runs per architecture, interleaved.')
_PRESET = flags.DEFINE_string('preset', os.path.join(_REPO, 'configs', 'atari_paper.py'),
                              'Configuration every architecture runs.')

ARCHITECTURES = {
    'a3c': ['--config.architecture=a3c'],
    'a2c_sync_step': ['--config.architecture=a2c_sync_step'],
    'a2c_sync_traj': ['--config.synchronous=true'],
    'impala': [],
}
# The order the paper's Table 1 finds on one machine, slowest first.
PAPER_ORDER = ('a3c', 'a2c_sync_step', 'a2c_sync_traj', 'impala')


def measure(name, seconds, warmup):
  """Median frames/s of one run of `name`."""
  with tempfile.TemporaryDirectory() as logdir:
    proc = subprocess.Popen(
        [sys.executable, os.path.join(_REPO, 'binaries', 'train_local.py'),
         f'--config={_PRESET.value}', f'--logdir={logdir}', '--config.log_every_seconds=5',
         *ARCHITECTURES[name]],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL='3'))
    readings, start = [], time.time()
    for line in proc.stdout:
      match = re.match(r'frames [\d,]+ \(([\d,]+)/s\)', line)
      if match and time.time() - start > warmup:
        readings.append(float(match.group(1).replace(',', '')))
      if time.time() - start > seconds:
        proc.send_signal(2)
        break
    proc.communicate(timeout=180)
  if not readings:
    raise RuntimeError(f'{name}: no frame-rate readings after the warm-up.')
  return statistics.median(readings)


def main(argv):
  del argv
  runs = {name: [] for name in ARCHITECTURES}
  for repeat in range(_REPEATS.value):
    for name in ARCHITECTURES:
      fps = measure(name, _SECONDS.value, _WARMUP.value)
      runs[name].append(fps)
      print(f'run {repeat + 1}: {name:14s} {fps:8,.0f} frames/s', flush=True)
  result = {name: round(statistics.median(values), 1) for name, values in runs.items()}
  print(f'\n{"architecture":16s} {"frames/s":>10s} {"vs impala":>10s}')
  for name, fps in result.items():
    print(f'{name:16s} {fps:10,.0f} {fps / result["impala"]:10.2f}')
  ours = tuple(sorted(result, key=result.get))
  print(f'order here, slowest first: {", ".join(ours)} (paper: {", ".join(PAPER_ORDER)})')
  print(json.dumps(result))


if __name__ == '__main__':
  app.run(main)
