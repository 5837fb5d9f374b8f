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
architecture's the median over its runs. Prints the table, with each
architecture's frame rate relative to IMPALA here and in the paper's Table 1,
and a final JSON line {architecture: frames/s}.
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
# The paper's Table 1, single machine, CPU only (48 cores; A3C on 64), in
# frames/s: task 1 seekavoid_arena_01, task 2 rooms_keys_doors_puzzle
# (DeepMind Lab, shallow network, batch 32).
PAPER_FPS = {
    'a3c': (6_500, 9_000),             # 32 workers
    'a2c_sync_step': (9_000, 5_000),
    'a2c_sync_traj': (16_000, 17_500),
    'impala': (17_000, 20_500),        # 48 actors
}


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
  print(f'\n{"architecture":16s} {"frames/s":>10s} {"vs impala":>10s} '
        f'{"paper task 1":>13s} {"paper task 2":>13s}')
  for name, fps in result.items():
    paper = ' '.join(f'{f / PAPER_FPS["impala"][i]:13.2f}' for i, f in enumerate(PAPER_FPS[name]))
    print(f'{name:16s} {fps:10,.0f} {fps / result["impala"]:10.2f} {paper}')
  for label, order in (('here', sorted(result, key=result.get)),
                       ('paper task 1', sorted(PAPER_FPS, key=lambda n: PAPER_FPS[n][0])),
                       ('paper task 2', sorted(PAPER_FPS, key=lambda n: PAPER_FPS[n][1]))):
    print(f'order {label}, slowest first: {", ".join(order)}')
  print(json.dumps(result))


if __name__ == '__main__':
  app.run(main)
