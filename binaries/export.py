r"""Exports a run's policy (greedy and sampling SavedModels) from a checkpoint.

  python binaries/export.py --logdir=runs/pong --out=exports/pong [--checkpoint=PATH]
"""

from absl import app
from absl import flags

from impala_tf import config as config_lib
from impala_tf import export

_LOGDIR = flags.DEFINE_string('logdir', None, 'Run directory (holds config.py, checkpoints/).')
_OUT = flags.DEFINE_string('out', None, 'Directory for greedy/ and sampling/ SavedModels.')
_CHECKPOINT = flags.DEFINE_string('checkpoint', None, 'Checkpoint prefix (default: newest).')
flags.mark_flags_as_required(['logdir', 'out'])


def main(argv):
  del argv
  try:
    out = export.export_from_checkpoint(_LOGDIR.value, _OUT.value, _CHECKPOINT.value)
  except (export.SavedModelError, config_lib.ConfigError) as e:
    raise app.UsageError(str(e)) from e
  print(f'exported {out}/greedy and {out}/sampling')


def run():
  app.run(main)


if __name__ == '__main__':
  run()
