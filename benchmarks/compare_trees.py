r"""Frames per second of one preset run from two source trees, side by side.

  git worktree add /tmp/before <commit>
  python benchmarks/compare_trees.py --trees=/tmp/before,. --config=configs/pong.py \
      --frames=1200000 --repeats=2 --logdir=runs/compare

For a refactor that must not slow the system down: each repeat runs
`binaries/train_local.py` of every tree in turn (interleaved, so a noisy
machine hurts both alike), with that tree first on PYTHONPATH, for the same
frame budget, and reads the run's own frames/s from its final JSON line.
Prints every run, the medians and their ratio, and a final JSON line.
"""

import json
import os
import statistics
import subprocess
import sys

from absl import app
from absl import flags

_TREES = flags.DEFINE_list('trees', None, 'Two or more source trees (repository roots).')
_CONFIG = flags.DEFINE_string('config', 'configs/pong.py', 'Preset, relative to each tree.')
_FRAMES = flags.DEFINE_integer('frames', 1_200_000, 'Frame budget of each run.')
_REPEATS = flags.DEFINE_integer('repeats', 2, 'Runs per tree, interleaved.')
_LOGDIR = flags.DEFINE_string('logdir', 'runs/compare_trees', 'Where the runs go.')
flags.mark_flags_as_required(['trees'])


def _run(tree, logdir):
  tree = os.path.abspath(tree)
  env = dict(os.environ, PYTHONPATH=tree)
  proc = subprocess.run(
      [sys.executable, os.path.join(tree, 'binaries', 'train_local.py'),
       f'--config={os.path.join(tree, _CONFIG.value)}', f'--logdir={logdir}',
       f'--config.total_environment_frames={_FRAMES.value}', '--isolate_network=false'],
      capture_output=True, text=True, env=env, check=False)
  lines = [l for l in proc.stdout.splitlines() if l.startswith('{')]
  if proc.returncode or not lines:
    raise SystemExit(f'{tree}: train_local exited {proc.returncode}:\n{proc.stderr[-2000:]}')
  return json.loads(lines[-1])


def main(argv):
  del argv
  trees = _TREES.value
  fps = {tree: [] for tree in trees}
  for repeat in range(_REPEATS.value):
    for k, tree in enumerate(trees):
      result = _run(tree, os.path.join(_LOGDIR.value, f'tree{k}_r{repeat}'))
      fps[tree].append(result['frames_per_second'])
      print(f'repeat {repeat} tree {tree}: {result["frames_per_second"]:.0f} frames/s, '
            f'return {result.get("episode_return_mean")}', flush=True)
  medians = {tree: statistics.median(values) for tree, values in fps.items()}
  base = medians[trees[0]]
  for tree in trees:
    print(f'{tree}: median {medians[tree]:.0f} frames/s ({medians[tree] / base:.3f} of '
          f'{trees[0]})')
  print(json.dumps({'config': _CONFIG.value, 'frames': _FRAMES.value, 'fps': fps,
                    'median_fps': medians,
                    'ratio_to_first': {t: medians[t] / base for t in trees}}))


if __name__ == '__main__':
  app.run(main)
