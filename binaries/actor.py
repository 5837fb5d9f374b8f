r"""An actor: steps envs with the learner's newest weights, sends unrolls.

  python binaries/actor.py --config=configs/pong.py --learner_address=HOST:PORT \
      --task=N [--task_id=K] [--logdir=DIR] [--config.FIELD=VALUE ...]
"""

import sys

from absl import app
from absl import flags
from absl import logging
from ml_collections import config_flags

from impala_tf import actor
from impala_tf import command_line
from impala_tf import exit_codes
from impala_tf import run_config

_CONFIG = config_flags.DEFINE_config_file('config', None, 'Preset file (configs/*.py).')
_ADDRESS = flags.DEFINE_string('learner_address', None, 'HOST:PORT of the learner.')
_TASK = flags.DEFINE_integer('task', 0, 'Index of this actor (seeds its envs).')
_TASK_ID = flags.DEFINE_integer(
    'task_id', None, 'Multi-task runs: which of the config\'s tasks this actor plays '
    '(default: --task modulo the number of tasks).')
_MAX_UNROLLS = flags.DEFINE_integer('max_unrolls', None, 'Stop after this many unrolls.')
_LOGDIR = flags.DEFINE_string(
    'logdir', None, 'The run\'s directory (any tf.io.gfile URL): an actor that cannot reach '
    'the learner reads there whether the run has finished, and if so exits 0.')
flags.mark_flags_as_required(['config', 'learner_address'])


def main(argv):
  del argv
  config = _CONFIG.value
  command_line.validated(config)
  if _TASK_ID.value is not None and not 0 <= _TASK_ID.value < config.num_tasks:
    raise app.UsageError(f'--task_id must be in [0, {config.num_tasks}) for the config\'s '
                         f'tasks {list(config.task_names)}, got {_TASK_ID.value}.')
  try:
    actor.run_actor(config, _ADDRESS.value, _TASK.value, _MAX_UNROLLS.value,
                    task_id=_TASK_ID.value, logdir=_LOGDIR.value)
  except run_config.ConfigMismatch as e:
    # One line, no traceback: the fix is in how the process was started.
    logging.error('actor %d: %s', _TASK.value, e)
    sys.exit(exit_codes.USAGE)
  except actor.LearnerGone as e:
    # The learner never came back: end, so the machine is not held forever.
    logging.error('actor %d: %s', _TASK.value, e)
    sys.exit(exit_codes.LEARNER_GONE)


def run():
  command_line.run(main)


if __name__ == '__main__':
  run()
