r"""Runs whole episodes with an exported policy; ends with one JSON line.

  python binaries/evaluate.py --saved_model=runs/pong/saved_model/greedy \
      --episodes=10 [--env=ALE/Pong-v5] [--seed=0] [--video=pong.gif]
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
flags.mark_flags_as_required(['saved_model'])


def main(argv):
  del argv
  logging.set_verbosity(logging.INFO)
  try:
    result = evaluation.evaluate(_SAVED_MODEL.value, _EPISODES.value, env_id=_ENV.value,
                                 seed=_SEED.value, video=_VIDEO.value)
  except (export.SavedModelError, evaluation.EvaluationError) as e:
    raise app.UsageError(str(e)) from e
  print(json.dumps(result))


def run():
  app.run(main)


if __name__ == '__main__':
  run()
