r"""Plots episode return against frames and wall-clock time for one or more runs.

  python binaries/plot.py --logdir=runs/pong --logdir=runs/pong_lstm --out=curves.png
"""

from absl import app
from absl import flags

from impala_tf import curves

_LOGDIRS = flags.DEFINE_multi_string('logdir', None, 'Run directories (repeat the flag).')
_OUT = flags.DEFINE_string('out', 'curves.png', 'PNG file to write.')
_TAG = flags.DEFINE_string('tag', 'episode_return', 'TensorBoard scalar to plot.')
flags.mark_flags_as_required(['logdir'])


def main(argv):
  del argv
  try:
    print(curves.plot_runs(_LOGDIRS.value, _OUT.value, _TAG.value))
  except (FileNotFoundError, ValueError) as e:
    raise app.UsageError(str(e)) from e


def run():
  app.run(main)


if __name__ == '__main__':
  run()
