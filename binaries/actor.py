r"""An actor: steps envs with the learner's newest weights, sends unrolls.

  python binaries/actor.py --config=configs/pong.py --learner_address=HOST:PORT \
      --task=N [--config.FIELD=VALUE ...]
"""

from absl import app
from absl import flags
from ml_collections import config_flags

from impala_tf import actor
from impala_tf import config as config_lib

_CONFIG = config_flags.DEFINE_config_file('config', None, 'Preset file (configs/*.py).')
_ADDRESS = flags.DEFINE_string('learner_address', None, 'HOST:PORT of the learner.')
_TASK = flags.DEFINE_integer('task', 0, 'Index of this actor (seeds its envs).')
_MAX_UNROLLS = flags.DEFINE_integer('max_unrolls', None, 'Stop after this many unrolls.')
flags.mark_flags_as_required(['config', 'learner_address'])


def main(argv):
  del argv
  try:
    actor.run_actor(_CONFIG.value, _ADDRESS.value, _TASK.value, _MAX_UNROLLS.value)
  except config_lib.ConfigError as e:
    raise app.UsageError(f'Invalid config: {e}') from e


def run():
  app.run(main)


if __name__ == '__main__':
  run()
