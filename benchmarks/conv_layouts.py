r"""The shallow torso's first layer in three equivalent arrangements, side by side.

  python benchmarks/conv_layouts.py [--config=configs/pong.py] [--repeats=5] [--seconds=3]

The profile of the Pong preset's train step (`throughput.py --profile
--profile_by=name`) puts a third of it in the first layer: the frames'
transpose from ALE's [C, H, W] to [H, W, C], the 8×8 stride-4 convolution
and its filter gradient. This measures, for one update's minibatch
(batch_size / num_minibatches trajectories × (unroll_length + 1) frames),
the forward pass and the filter and bias gradients of that layer in:

  nhwc: transpose to [N, H, W, C], then the 8×8/4 convolution (what
        networks.ShallowTorso runs);
  nchw: the 8×8/4 convolution on [N, C, H, W] directly, its output
        transposed to [N, H', W', 16] (what the next layer reads);
  s2d:  space-to-depth, 4×4 blocks of pixels as 64 channels of a 21×21
        image, and the same filters rearranged as a 2×2 stride-1
        convolution (the same sums of the same products in another order).

Each arrangement's output and gradients are checked against nhwc's first,
then the three are timed in turn, --repeats times (medians). The last line
is JSON.
"""

import json
import os
import statistics
import time

import impala_tf  # pylint: disable=g-bad-import-order,unused-import  (first: oneDNN)
from absl import app
from absl import flags
from ml_collections import config_flags
import numpy as np
import tensorflow as tf

from impala_tf import cpu_kernels
from impala_tf import environments

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_CONFIG = config_flags.DEFINE_config_file(
    'config', os.path.join(_REPO, 'configs', 'pong.py'), 'Preset to measure.')
_REPEATS = flags.DEFINE_integer('repeats', 5, 'Timed rounds of the three arrangements.')
_SECONDS = flags.DEFINE_float('seconds', 3.0, 'Seconds per arrangement per round.')

_FILTERS, _SIZE, _STRIDE = 16, 8, 4


def _arrangements(n, channels, side):
  out = (side - _SIZE) // _STRIDE + 1
  blocks = side // _STRIDE
  rng = np.random.default_rng(0)
  frames = tf.constant(rng.normal(size=(n, channels, side, side)).astype(np.float32))
  upstream = tf.constant(rng.normal(size=(n, out, out, _FILTERS)).astype(np.float32))
  kernel = tf.Variable(rng.normal(size=(_SIZE, _SIZE, channels, _FILTERS)).astype(np.float32)
                       * 0.1)
  bias = tf.Variable(np.zeros(_FILTERS, np.float32))

  def nhwc(x):
    return tf.nn.conv2d(tf.transpose(x, [0, 2, 3, 1]), kernel, _STRIDE, 'VALID')

  def nchw(x):
    return tf.transpose(tf.nn.conv2d(x, kernel, _STRIDE, 'VALID', data_format='NCHW'),
                        [0, 2, 3, 1])

  def s2d(x):
    # [N, C, (a, i), (b, j)] → [N, a, b, (i, j, c)]; kernel [(a, i), (b, j), c, o] → [a, b, (i, j, c), o]
    k = _SIZE // _STRIDE
    x = tf.reshape(x, [n, channels, blocks, _STRIDE, blocks, _STRIDE])
    x = tf.reshape(tf.transpose(x, [0, 2, 4, 3, 5, 1]),
                   [n, blocks, blocks, _STRIDE * _STRIDE * channels])
    w = tf.reshape(kernel, [k, _STRIDE, k, _STRIDE, channels, _FILTERS])
    w = tf.reshape(tf.transpose(w, [0, 2, 1, 3, 4, 5]),
                   [k, k, _STRIDE * _STRIDE * channels, _FILTERS])
    return tf.nn.conv2d(x, w, 1, 'VALID')

  def compiled(conv):
    @tf.function
    def run(x):
      with tf.GradientTape() as tape:
        y = tf.nn.relu(tf.nn.bias_add(conv(x), bias))
        loss = tf.reduce_sum(y * upstream)
      return (y,) + tuple(tape.gradient(loss, [kernel, bias]))
    return run

  return frames, {name: compiled(fn) for name, fn in
                  (('nhwc', nhwc), ('nchw', nchw), ('s2d', s2d))}


def main(argv):
  del argv
  config = _CONFIG.value
  n = config.batch_size // config.num_minibatches * (config.unroll_length + 1)
  spec = environments.env_spec(config)
  if not spec.channels_first or len(spec.observation_shape) != 3:
    raise app.UsageError(f'{config.env_id} does not give [C, H, W] frames: nothing to compare.')
  channels, side, width = spec.observation_shape
  if side != width or side % _STRIDE:
    raise app.UsageError(f'frames of {side}×{width}: the arrangements need square frames '
                         f'whose side is a multiple of the stride {_STRIDE}.')
  print(cpu_kernels.status())
  print(f'first layer of one update: {n} frames of {channels}×{side}×{side}')
  frames, runs = _arrangements(n, channels, side)
  reference = [t.numpy() for t in runs['nhwc'](frames)]
  errors = {}
  for name, run in runs.items():
    got = [t.numpy() for t in run(frames)]
    errors[name] = max(float(np.max(np.abs(g - r)) / np.max(np.abs(r)))
                       for g, r in zip(got, reference))
  ms = {name: [] for name in runs}
  for _ in range(_REPEATS.value):
    for name, run in runs.items():
      calls, start = 0, time.perf_counter()
      while time.perf_counter() - start < _SECONDS.value:
        run(frames)[1].numpy()
        calls += 1
      ms[name].append(1e3 * (time.perf_counter() - start) / calls)
  medians = {name: statistics.median(v) for name, v in ms.items()}
  for name in runs:
    print(f'{name:5s} {medians[name]:7.2f} ms  ({medians[name] / medians["nhwc"]:.2f}× nhwc; '
          f'max relative difference from nhwc {errors[name]:.1e}; runs: '
          + ', '.join(f'{v:.2f}' for v in ms[name]) + ')')
  print(json.dumps({'onednn': cpu_kernels.onednn_enabled(), 'frames': n,
                    'ms': {k: round(v, 2) for k, v in medians.items()},
                    'ratio_to_nhwc': {k: round(v / medians['nhwc'], 3)
                                      for k, v in medians.items()},
                    'max_relative_difference': errors}))


if __name__ == '__main__':
  app.run(main)
