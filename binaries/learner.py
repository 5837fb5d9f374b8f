r"""The learner: hosts the trajectory queue, trains, publishes weights.

  python binaries/learner.py --config=configs/pong.py --logdir=DIR --port=PORT \
      [--pbt_dir=POPULATION_DIR --pbt_member=I] [--config.FIELD=VALUE ...]
"""

import sys

from absl import flags
from absl import logging
from ml_collections import config_flags

from impala_tf import command_line
from impala_tf import exit_codes
from impala_tf import learner
from impala_tf.pbt import population as population_lib

_CONFIG = config_flags.DEFINE_config_file('config', None, 'Preset file (configs/*.py).')
_LOGDIR = flags.DEFINE_string('logdir', None, 'Run directory; an existing one is resumed.')
_PORT = flags.DEFINE_integer('port', 0, 'Reverb port actors connect to (0: any free).')
_MAX_STEPS = flags.DEFINE_integer('max_steps', None, 'Stop after this many steps.')
_PBT_DIR = flags.DEFINE_string(
    'pbt_dir', None, 'Population Based Training: the population\'s shared directory (a '
    'path or any tf.io.gfile URL, e.g. gs://); this learner is member --pbt_member.')
_PBT_MEMBER = flags.DEFINE_integer('pbt_member', None, 'This learner\'s index in the '
                                   'population (with --pbt_dir).')
_PBT_SIZE = flags.DEFINE_integer('pbt_size', None, 'With --pbt_dir: records the population\'s '
                                 'size (members 0..size-1) before starting, as pbt_local.py '
                                 'does; every member of a cloud population passes it.')
flags.mark_flags_as_required(['config', 'logdir'])


def main(argv):
  del argv
  config = command_line.validated_run(_CONFIG.value, _PBT_DIR.value, _PBT_MEMBER.value)
  if _PBT_SIZE.value is not None:
    if not _PBT_DIR.value or not 0 <= _PBT_MEMBER.value < _PBT_SIZE.value:
      command_line.fail(f'--pbt_size={_PBT_SIZE.value} needs --pbt_dir and a --pbt_member '
                        'below it.')
    population_lib.Population(_PBT_DIR.value).write_size(_PBT_SIZE.value)
  try:
    learner.run_learner(config, _LOGDIR.value, _PORT.value,
                        _MAX_STEPS.value, pbt_dir=_PBT_DIR.value, pbt_member=_PBT_MEMBER.value)
  except learner.NoData as e:
    # One line: nothing to debug, no actor wrote (learner_data_timeout_seconds).
    logging.error('learner: %s', e)
    sys.exit(exit_codes.NO_DATA)


def run():
  command_line.run(main)


if __name__ == '__main__':
  run()
