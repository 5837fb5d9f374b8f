"""bsuite's memory experiments, scored by bsuite's own analysis.

  python benchmarks/bsuite_memory.py \
      --config=configs/merlin_bsuite.py,configs/impala_lstm_bsuite.py \
      --experiment=memory_len [--settings=22] --out=runs/bsuite_memory

Each preset (a row) trains once per setting of the experiment's sweep
(`bsuite:<experiment>/<i>`), for bsuite's 10,000 episodes: the frame budget
is 10,000 episodes of the setting's length plus the episodes in flight in
every environment when the 10,000th ends. The learner writes bsuite's CSV
log of its episodes (impala_tf/bsuite_envs.py: one log per setting, episodes
in the order the learner receives them), and the row's score is bsuite's
`analysis.score` over its settings' logs: the share of settings where the
agent was right in ≥ 62.5 % of all 10,000 episodes (learning late costs).

Runs go one after another (each uses both cores). A setting whose run
finished is read back, not run again (`train_runs`), so a stopped sweep
resumes; each finished setting's result is printed as it ends. The last line
is JSON: per row, `score` and each setting's share of right answers.
"""

import argparse
import importlib
import json
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import train_runs  # noqa: E402  benchmarks/train_runs.py

# bsuite's episodes per setting (sweep.EPISODES: 10,000 for every memory one).
EPISODES = 10_000


def _preset_config(path):
  from impala_tf import config as config_lib  # pylint: disable=g-import-not-at-top
  return config_lib.load_config_file(path)


def episode_frames(experiment, setting):
  """Frames of one episode of `bsuite:<experiment>/<setting>`: its actions
  (counted by playing one) and the reset step after it."""
  from bsuite import bsuite as bsuite_lib  # pylint: disable=g-import-not-at-top
  env = bsuite_lib.load_from_id(f'{experiment}/{setting}')
  env.reset()
  steps = 1
  while not env.step(0).last():
    steps += 1
  return steps + 1


def settings_of(experiment):
  from bsuite import sweep  # pylint: disable=g-import-not-at-top
  return sorted(int(i.split('/')[1]) for i in sweep.SWEEP if i.startswith(experiment + '/'))


def read_log(logdir):
  """(right answers / episodes, episodes) of a run's bsuite log."""
  from bsuite.logging import csv_load  # pylint: disable=g-import-not-at-top
  frame, _ = csv_load.load_bsuite(os.path.join(logdir, 'bsuite'))
  last = frame[frame.episode == frame.episode.max()].iloc[0]
  return float(last.total_perfect) / float(last.episode), int(last.episode), frame


def score(experiment, frames):
  """bsuite's score of the logs (`analysis.score` of the experiment)."""
  import pandas as pd  # pylint: disable=g-import-not-at-top
  analysis = importlib.import_module(f'bsuite.experiments.{experiment}.analysis')
  return float(analysis.score(pd.concat(frames)))


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
  parser.add_argument('--config', required=True,
                      help='comma-separated presets, one row each')
  parser.add_argument('--experiment', choices=('memory_len', 'memory_size'), required=True)
  parser.add_argument('--settings', default='', help='comma-separated setting indices '
                      '(default: the whole sweep)')
  parser.add_argument('--out', required=True)
  parser.add_argument('--seed', type=int, default=0)
  parser.add_argument('flags', nargs='*', help='more flags for every run (--config.X=Y)')
  args = parser.parse_args()
  settings = ([int(s) for s in args.settings.split(',')] if args.settings
              else settings_of(args.experiment))
  rows = {}
  for preset in args.config.split(','):
    name = os.path.splitext(os.path.basename(preset))[0]
    config = _preset_config(preset)
    in_flight = 2 * config.num_actors * config.envs_per_actor
    frames, per_setting = [], {}
    for setting in settings:
      bsuite_id = f'{args.experiment}/{setting}'
      per_episode = episode_frames(args.experiment, setting)
      budget = (EPISODES + in_flight) * per_episode + config.unroll_length * (
          config.num_actors * config.envs_per_actor)
      logdir = os.path.join(args.out, name, bsuite_id.replace('/', '-'))
      result = train_runs.train(logdir, [
          f'--config={preset}', f'--config.env_id=bsuite:{bsuite_id}',
          f'--config.total_environment_frames={budget}', f'--config.seed={args.seed}',
          *args.flags])
      right, episodes, frame = read_log(logdir)
      frames.append(frame)
      per_setting[bsuite_id] = dict(
          right=round(right, 4), episodes=episodes, solved=bool(right >= 0.625 and
                                                              episodes >= EPISODES),
          wall_seconds=result.get('wall_seconds'), command=result.get('command'))
      print(json.dumps({'row': name, 'setting': bsuite_id, **per_setting[bsuite_id]}),
            flush=True)
    rows[name] = dict(score=score(args.experiment, frames), settings=per_setting)
    print(f'{name}: bsuite score {rows[name]["score"]:.3f} over {len(settings)} setting(s)',
          flush=True)
  print(json.dumps({'experiment': args.experiment, 'settings': settings, 'seed': args.seed,
                    'rows': {k: dict(score=v['score'],
                                     right={s: r['right'] for s, r in v['settings'].items()})
                             for k, v in rows.items()}}))


if __name__ == '__main__':
  main()
