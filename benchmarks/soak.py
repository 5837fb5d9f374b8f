r"""Soak: the local Pong set-up for a given time, sampling memory and frame rate.

  python benchmarks/soak.py [--config=configs/pong.py] [--minutes=30]
      [--warmup_minutes=5] [--sample_seconds=10]

Every --sample_seconds it records the resident memory (RSS) of every process
of the run (launcher, learner, actors) and the learner's frame counter. At
the end it prints, per process, RSS at the end of warm-up and at the end and
the growth between them, the frame rate per 5-minute window, and a final
JSON line. Targets: RSS growth after warm-up under 10 %, steady frame rate.
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from absl import app
from absl import flags
import psutil

import run_processes  # benchmarks/run_processes.py, beside this script

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_CONFIG = flags.DEFINE_string('config', os.path.join(_REPO, 'configs', 'pong.py'), 'Preset.')
_MINUTES = flags.DEFINE_float('minutes', 30.0, 'Length of the soak.')
_WARMUP = flags.DEFINE_float('warmup_minutes', 5.0, 'Warm-up excluded from the growth figure.')
_SAMPLE = flags.DEFINE_float('sample_seconds', 10.0, 'Sampling interval.')


def main(argv):
  del argv
  with tempfile.TemporaryDirectory() as logdir:
    launcher = subprocess.Popen(
        [sys.executable, os.path.join(_REPO, 'binaries', 'train_local.py'),
         f'--config={_CONFIG.value}', f'--logdir={logdir}',
         # A budget the soak cannot reach: it ends by time, not frames.
         '--config.total_environment_frames=10000000000'],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL='3'))
    root = psutil.Process(launcher.pid)
    samples = []  # (seconds, frames, {role: rss_bytes})
    start = time.time()
    status_path = os.path.join(logdir, 'status.json')
    while time.time() - start < _MINUTES.value * 60:
      time.sleep(_SAMPLE.value)
      rss = {}
      try:
        for proc in [root] + root.children(recursive=True):
          role = run_processes.role(proc, root)
          if role:
            rss[role] = rss.get(role, 0) + proc.memory_info().rss
      except psutil.NoSuchProcess:
        continue
      try:
        with open(status_path) as f:
          frames = json.load(f)['env_frames']
      except (OSError, ValueError, KeyError):
        frames = None
      samples.append((time.time() - start, frames, rss))
      print(f'{samples[-1][0]:7.0f}s frames {frames} ' +
            ' '.join(f'{k} {v / 2**20:.0f}MiB' for k, v in sorted(rss.items())), flush=True)
    launcher.send_signal(2)
    launcher.wait(timeout=180)

  warm = [s for s in samples if s[0] >= _WARMUP.value * 60 and s[1] is not None]
  first, last = warm[0], warm[-1]
  growth = {role: (last[2][role] - first[2][role]) / first[2][role]
            for role in first[2] if role in last[2]}
  windows = []
  for lo in range(0, int(_MINUTES.value), 5):
    pts = [s for s in samples if lo * 60 <= s[0] < (lo + 5) * 60 and s[1] is not None]
    if len(pts) >= 2:
      windows.append((pts[-1][1] - pts[0][1]) / (pts[-1][0] - pts[0][0]))
  steady = windows[1:] if len(windows) > 1 else windows
  for role in sorted(growth):
    print(f'{role:10s} RSS {first[2][role] / 2**20:8.0f} MiB after warm-up -> '
          f'{last[2][role] / 2**20:8.0f} MiB at the end ({100 * growth[role]:+.1f}%)')
  print('frames/s per 5-minute window: ' + ', '.join(f'{w:,.0f}' for w in windows))
  print(json.dumps({
      'minutes': _MINUTES.value,
      'rss_mib_after_warmup': {k: round(v / 2**20) for k, v in first[2].items()},
      'rss_mib_at_end': {k: round(v / 2**20) for k, v in last[2].items()},
      'rss_growth_after_warmup': {k: round(v, 4) for k, v in growth.items()},
      'max_rss_growth': round(max(growth.values()), 4),
      'frames_per_second_windows': [round(w) for w in windows],
      'frame_rate_cv_after_first_window': round(
          statistics.pstdev(steady) / statistics.mean(steady), 4) if steady else None,
  }))


if __name__ == '__main__':
  app.run(main)
