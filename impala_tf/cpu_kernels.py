"""Which CPU kernels TensorFlow runs: oneDNN's, by default.

TensorFlow 2.15 turns its oneDNN kernels on by default only on CPUs with
AVX-512-class features; on others (this project's AVX2 machine) it runs
Eigen's. oneDNN's convolution gradients are far faster there: the Pong
preset's train step ran 1.7-2.9x as many frames per second with them (2.5x
in the profiled step), the whole Pong pipeline 1.57x; the acting step was no
slower, and CartPole's MLP and LSTM alike (docs/results.md, "Throughput").
`impala_tf/__init__.py` therefore sets TF_ENABLE_ONEDNN_OPTS=1 unless it is
already set (0 keeps Eigen's kernels).

TensorFlow reads the variable once, when it loads: the default applies to a
process that imports impala_tf before TensorFlow, as every binary does, and
to the processes it starts. `status()` says which kernels a process got and
why, for the learner's log.
"""

import os

VARIABLE = 'TF_ENABLE_ONEDNN_OPTS'


def default_to_onednn():
  """Sets TF_ENABLE_ONEDNN_OPTS=1 in this process's environment unless it is set."""
  os.environ.setdefault(VARIABLE, '1')


def onednn_enabled() -> bool:
  """Whether this process's TensorFlow runs oneDNN's kernels (loads TF)."""
  # The query TensorFlow's own test utilities use (no public API in 2.15).
  from tensorflow.python.util import _pywrap_util_port  # pylint: disable=g-import-not-at-top
  return bool(_pywrap_util_port.IsMklEnabled())


def status() -> str:
  """One line: which CPU kernels TensorFlow runs here, and why."""
  if onednn_enabled():
    return 'oneDNN CPU kernels on'
  if os.environ.get(VARIABLE) == '0':
    return f'oneDNN CPU kernels off ({VARIABLE}=0)'
  return (f'oneDNN CPU kernels off: TensorFlow loaded before {VARIABLE}=1 was set (import '
          f'impala_tf before tensorflow, or set it yourself), or this build has none; '
          f'convolutions train about 2x slower without them')
