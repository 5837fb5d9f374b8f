r"""Runs whole episodes with an exported policy; ends with one JSON line.

  python binaries/evaluate.py --saved_model=runs/pong/saved_model/greedy \
      --episodes=10 [--env=ALE/Pong-v5] [--seed=0] [--video=pong.gif]
  python binaries/evaluate.py --saved_model=runs/multi/saved_model/greedy \
      --episodes=10 [--task=all|ALE/Breakout-v5]

An export of a multi-task run serves every task: --task picks one by name,
or 'all' (its default) evaluates each and reports per task (and, for Atari,
human-normalised scores and their median).
"""

import json

from absl import app
from absl import flags
from absl import logging

from impala_tf import evaluation
from impala_tf import export

_SAVED_MODEL = flags.DEFINE_string('saved_model', None, 'A greedy/ or sampling/ export.')
_EPISODES = flags.DEFINE_integer('episodes', 10, 'Episodes to run.')
_ENV = flags.DEFINE_string('env', None, 'Environment id (default: the one trained on).')
_SEED = flags.DEFINE_integer('seed', 0, 'Environment seed.')
_VIDEO = flags.DEFINE_string('video', None, 'Write one episode to this .gif or .mp4.')
_TASK = flags.DEFINE_string('task', None,
                            'Multi-task exports: a task name, or "all" (the default).')
flags.mark_flags_as_required(['saved_model'])


def main(argv):
  del argv
  logging.set_verbosity(logging.INFO)
  try:
    names = evaluation.task_names(_SAVED_MODEL.value)
    if len(names) > 1 and not _ENV.value and _TASK.value in (None, 'all'):
      result = evaluation.evaluate_tasks(_SAVED_MODEL.value, _EPISODES.value, 'all',
                                         seed=_SEED.value)
    else:
      task = 0
      if _TASK.value not in (None, 'all'):
        if _TASK.value not in names:
          raise evaluation.EvaluationError(
              f'--task must be "all" or one of {list(names)}, got {_TASK.value!r}.')
        task = names.index(_TASK.value)
      result = evaluation.evaluate(_SAVED_MODEL.value, _EPISODES.value, env_id=_ENV.value,
                                   seed=_SEED.value, video=_VIDEO.value, task=task)
  except (export.SavedModelError, evaluation.EvaluationError) as e:
    raise app.UsageError(str(e)) from e
  print(json.dumps(result))


def run():
  app.run(main)


if __name__ == '__main__':
  run()
