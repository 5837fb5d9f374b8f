"""oneDNN's CPU kernels: on by default when impala_tf loads first, an explicit
setting kept, and the Atari network's outputs and gradients the same with
either kernel set (TensorFlow reads the choice once per process, so each case
runs in its own)."""

import json
import os
import subprocess
import sys

import numpy as np
import tensorflow as tf

_REPORT = '''
import json, os
from impala_tf import cpu_kernels
print(json.dumps([cpu_kernels.onednn_enabled(), cpu_kernels.status(),
                  os.environ.get(cpu_kernels.VARIABLE)]))
'''

# The Pong preset's network (shallow torso, observation normalisation) on a
# fixed batch of [C, H, W] frame stacks: outputs and gradients to a file.
_NETWORK = '''
import sys
import impala_tf
import gymnasium as gym
import numpy as np
import tensorflow as tf
from impala_tf import cpu_kernels, distributions, networks
from impala_tf_configs import pong
config = pong.get_config()
tf.keras.utils.set_random_seed(0)
network = networks.make_network(config, (4, 84, 84), distributions.for_action_space(
    gym.spaces.Discrete(6)), channels_first=True)
rng = np.random.default_rng(0)
t, b = 21, 8
inputs = networks.NetworkInput(
    observation=rng.integers(0, 256, (t, b, 4, 84, 84), dtype=np.uint8),
    first=np.zeros((t, b), bool), prev_action=np.zeros((t, b), np.int32),
    prev_reward=np.zeros((t, b), np.float32))
network.normalizer.update(*network.normalizer.moments(
    tf.reshape(inputs.observation, [-1, 4, 84, 84]), tf.zeros([t * b], tf.int32)))
with tf.GradientTape() as tape:
  out, _ = network.unroll(inputs, (), tf.zeros([t, b], tf.int32))
  objective = tf.reduce_sum(tf.square(out.policy_params)) + tf.reduce_sum(tf.square(out.baseline))
grads = tape.gradient(objective, network.trainable_variables)
np.savez(sys.argv[1], onednn=cpu_kernels.onednn_enabled(), logits=out.policy_params.numpy(),
         baseline=out.baseline.numpy(), **{f'grad_{i}': g.numpy() for i, g in enumerate(grads)})
'''


def _run(code, *args, **env):
  environ = {k: v for k, v in os.environ.items() if k != 'TF_ENABLE_ONEDNN_OPTS'}
  environ.update(env, TF_CPP_MIN_LOG_LEVEL='3')
  result = subprocess.run([sys.executable, '-c', code, *args], capture_output=True, text=True,
                          env=environ, timeout=300)
  assert result.returncode == 0, result.stderr[-3000:]
  return result.stdout


def _report(first, **env):
  lines = _run(first + _REPORT, **env).splitlines()
  return json.loads(lines[-1])


class CpuKernelsTest(tf.test.TestCase):

  def test_on_when_impala_tf_loads_before_tensorflow(self):
    enabled, status, value = _report('import impala_tf\nimport tensorflow\n')
    self.assertTrue(enabled)
    self.assertEqual(status, 'oneDNN CPU kernels on')
    self.assertEqual(value, '1')

  def test_an_explicit_zero_is_kept(self):
    enabled, status, value = _report('import impala_tf\nimport tensorflow\n',
                                     TF_ENABLE_ONEDNN_OPTS='0')
    self.assertFalse(enabled)
    self.assertEqual(status, 'oneDNN CPU kernels off (TF_ENABLE_ONEDNN_OPTS=0)')
    self.assertEqual(value, '0')

  def test_tensorflow_loaded_first_is_reported(self):
    enabled, status, value = _report('import tensorflow\nimport impala_tf\n')
    self.assertEqual(value, '1')  # set, but after TensorFlow read it
    if not enabled:  # TensorFlow's own default on this CPU
      self.assertIn('TensorFlow loaded before TF_ENABLE_ONEDNN_OPTS=1 was set', status)

  def test_network_outputs_and_gradients_agree_across_kernels(self):
    results = {}
    for value in ('1', '0'):
      path = os.path.join(self.get_temp_dir(), f'onednn_{value}.npz')
      _run(_NETWORK, path, TF_ENABLE_ONEDNN_OPTS=value)
      results[value] = dict(np.load(path))
    on, off = results['1'], results['0']
    self.assertTrue(on.pop('onednn'))
    self.assertFalse(off.pop('onednn'))
    self.assertEqual(sorted(on), sorted(off))
    self.assertGreater(len(on), 8)  # logits, baseline and every variable's gradient
    for name in on:
      scale = np.abs(off[name]).max()
      self.assertGreater(scale, 0.0, name)
      self.assertAllClose(on[name], off[name], rtol=1e-4, atol=1e-4 * scale, msg=name)


if __name__ == '__main__':
  tf.test.main()
