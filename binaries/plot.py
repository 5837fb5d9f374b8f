r"""Plots episode return against frames and wall-clock time for one or more runs.

  python binaries/plot.py --logdir=runs/pong --logdir=runs/pong_lstm --out=curves.png
  python binaries/plot.py --population=runs/pbt --out=pbt.png

With --population, plots a PBT run (binaries/pbt_local.py): each member's
return and its hyperparameters over frames, exploits marked.
"""

from absl import app
from absl import flags

from impala_tf import curves

_LOGDIRS = flags.DEFINE_multi_string('logdir', None, 'Run directories (repeat the flag).')
_POPULATION = flags.DEFINE_string('population', None, 'A pbt_local.py run directory.')
_OUT = flags.DEFINE_string('out', 'curves.png', 'PNG file to write.')
_TAG = flags.DEFINE_string('tag', 'episode_return', 'TensorBoard scalar to plot.')


def main(argv):
  del argv
  if bool(_LOGDIRS.value) == bool(_POPULATION.value):
    raise app.UsageError('Give --logdir (one or more runs) or --population, not both.')
  try:
    if _POPULATION.value:
      print(curves.plot_population(_POPULATION.value, _OUT.value))
    else:
      print(curves.plot_runs(_LOGDIRS.value, _OUT.value, _TAG.value))
  except (FileNotFoundError, ValueError) as e:
    raise app.UsageError(str(e)) from e


def run():
  app.run(main)


if __name__ == '__main__':
  run()
