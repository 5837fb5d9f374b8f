r"""Trains on this machine: one learner and config.num_actors actor processes.

  python binaries/train_local.py --config=configs/pong.py --logdir=runs/pong \
      [--config.FIELD=VALUE ...]

Prints a progress line every config.log_every_seconds and one final JSON
line; run it again on the same --logdir to resume.
"""

import os
import sys

from absl import app
from absl import flags
from ml_collections import config_flags

from impala_tf import command_line
from impala_tf import launcher

_CONFIG = config_flags.DEFINE_config_file('config', None, 'Preset file (configs/*.py).')
_LOGDIR = flags.DEFINE_string('logdir', None, 'Run directory; an existing one is resumed.')
_PORT = flags.DEFINE_integer('port', 0, 'Reverb port of the learner (0: pick a free one).')
_PBT_DIR = flags.DEFINE_string('pbt_dir', None, 'Population directory: the learner is '
                               'member --pbt_member of a PBT population (see pbt_local.py).')
_PBT_MEMBER = flags.DEFINE_integer('pbt_member', None, 'Index in the population.')
_ISOLATE = flags.DEFINE_boolean(
    'isolate_network', True,
    'Run learner and actors in a private network namespace, so the unauthenticated '
    'Reverb port is unreachable from other hosts.')
flags.mark_flags_as_required(['config', 'logdir'])

_HERE = os.path.dirname(os.path.abspath(__file__))


def main(argv):
  del argv
  config = _CONFIG.value
  command_line.validated_run(config, _PBT_DIR.value, _PBT_MEMBER.value)
  if _ISOLATE.value:
    try:
      launcher.reexec_in_private_network_namespace(sys.argv)  # returns once inside
    except launcher.IsolationError as e:
      raise app.UsageError(str(e)) from e
  result = launcher.LocalLauncher(
      config, _LOGDIR.value,
      learner_cmd=[sys.executable, os.path.join(_HERE, 'learner.py')],
      actor_cmd=[sys.executable, os.path.join(_HERE, 'actor.py')],
      port=_PORT.value,
      learner_args=([f'--pbt_dir={_PBT_DIR.value}', f'--pbt_member={_PBT_MEMBER.value}']
                    if _PBT_DIR.value else [])).run()
  if result['outcome'] == 'failed':
    sys.exit(1)


def run():
  command_line.run(main)


if __name__ == '__main__':
  run()
