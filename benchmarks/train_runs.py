"""Training runs for the learning benchmarks: binaries/train_local.py to a budget, resumable.

A run directory whose run finished its budget holds `result.json` (the
final JSON line of train_local, with the launch time) and is read instead
of run again, so an interrupted benchmark resumes where it stopped. A run
directory without it is a run that was stopped part-way: it is moved aside
(`<dir>.stopped-<time>`, kept for inspection) and the run starts afresh, so
that its wall-clock figures are those of one uninterrupted run.
"""

import json
import os
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULT_FILE = 'result.json'


def finished(logdir):
  """The result of a run that finished its budget, or None."""
  try:
    with open(os.path.join(logdir, RESULT_FILE)) as f:
      return json.load(f)
  except (OSError, ValueError):
    return None


def train(logdir, flags):
  """Runs `binaries/train_local.py --logdir=logdir *flags` (unless it already
  finished); returns its final JSON line as a dict with `launch_time` and
  `command`. Raises RuntimeError with the output's tail if it fails."""
  done = finished(logdir)
  if done:
    print(f'--- {logdir}: already done, reading it', flush=True)
    return done
  if os.path.exists(logdir):
    aside = f'{logdir}.stopped-{time.strftime("%Y%m%d-%H%M%S")}'
    os.rename(logdir, aside)
    print(f'--- {logdir}: stopped part-way earlier; moved to {aside}, starting afresh',
          flush=True)
  argv = [sys.executable, os.path.join(REPO, 'binaries', 'train_local.py'),
          f'--logdir={logdir}', *flags]
  print('---', ' '.join(argv[1:]), flush=True)
  start = time.time()
  proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL='3'), check=False)
  lines = [l for l in proc.stdout.splitlines() if l.startswith('{')]
  if proc.returncode != 0 or not lines:
    raise RuntimeError(f'training {logdir} failed (status {proc.returncode}):\n'
                       + proc.stdout[-3000:])
  result = json.loads(lines[-1])
  result['launch_time'] = start
  result['command'] = ' '.join(argv[1:])
  if result.get('outcome') == 'completed':
    with open(os.path.join(logdir, RESULT_FILE), 'w') as f:
      json.dump(result, f)
  return result
