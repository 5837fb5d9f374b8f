"""The learner step's device part compiles under XLA, and computes the same.

A TPU compiles every op of its step with XLA; here on CPU, the same
compilation (`jit_compile=True`) is checked for the Atari torsos with and
without the LSTM, and for PopArt multi-task. The batch read (a Reverb
dataset, a host op) stays outside the compiled part (`TrainStep.train_on_batch`
is everything after it). Each case runs one step compiled and one not, from
the same weights on the same batch, and compares the statistics and the
updated weights.
"""

import dataclasses

from absl.testing import parameterized
import numpy as np
import pytest
import tensorflow as tf

from impala_tf import config as config_lib
from impala_tf import environments
from impala_tf import learner as learner_lib
from impala_tf import train_step as train_step_lib
from impala_tf import trajectories

# Tier (pytest.ini): compiles whole learner steps (several seconds each).
pytestmark = pytest.mark.slow


def _config(**kwargs):
  base = dict(env_id='ALE/Pong-v5', unroll_length=4, envs_per_actor=2, batch_size=2,
              num_actors=1, lstm_units=32, num_epochs=2, num_minibatches=2,
              total_environment_frames=1_000_000)
  base.update(kwargs)
  return config_lib.ImpalaConfig(**base)


def _batch(config, spec, seed=0):
  rng = np.random.default_rng(seed)
  signature = trajectories.item_signature(
      trajectories.step_spec(spec, spec.distribution, config.envs_per_actor,
                             config.lstm_units if config.use_lstm else 0),
      config.unroll_length)

  def sample(s):
    shape = (config.items_per_batch, *s.shape)
    if s.dtype == tf.bool:
      return rng.uniform(size=shape) < 0.2
    if s.dtype == tf.uint8:
      return rng.integers(0, 256, shape).astype(np.uint8)
    if s.dtype.is_integer:
      return rng.integers(0, 2, shape).astype(s.dtype.as_numpy_dtype)
    return rng.normal(size=shape).astype(s.dtype.as_numpy_dtype)

  items = tf.nest.map_structure(sample, signature)
  items['task'] = rng.integers(0, config.num_tasks, items['task'].shape).astype(np.int32)
  return trajectories.to_time_major(items)


class XlaTest(tf.test.TestCase, parameterized.TestCase):

  @parameterized.named_parameters(
      ('shallow', dict(torso='shallow', use_lstm=False)),
      ('shallow_lstm', dict(torso='shallow', use_lstm=True)),
      ('nature', dict(torso='nature', use_lstm=False)),
      ('nature_lstm', dict(torso='nature', use_lstm=True)),
      ('resnet', dict(torso='resnet', use_lstm=False)),
      ('resnet_lstm', dict(torso='resnet', use_lstm=True)),
      ('popart_multitask', dict(
          torso='shallow', use_lstm=True, popart=True, reward_clipping='none',
          tasks=('ALE/Pong-v5', 'ALE/Breakout-v5'), full_action_space=True, num_actors=2)),
  )
  def test_compiles_and_matches(self, changes):
    config = _config(**changes)
    compiled_config = dataclasses.replace(config, jit_compile=True)
    spec = environments.env_spec(config)
    strategy = tf.distribute.get_strategy()
    plain = train_step_lib.TrainStep(config, spec, strategy)
    compiled = train_step_lib.TrainStep(compiled_config, spec, strategy)
    for source, target in zip(plain.network.variables, compiled.network.variables):
      target.assign(source)
    batch = _batch(config, spec)

    orders = plain.epoch_orders()
    plain_stats, _ = tf.function(plain.train_on_batch)(batch, orders)
    compiled_stats, _ = compiled._device_step(batch, orders)  # pylint: disable=protected-access
    # It really went through XLA: the compiled function has an XLA program.
    hlo = compiled._device_step.experimental_get_compiler_ir(batch, orders)(stage='hlo')  # pylint: disable=protected-access
    self.assertIn('HloModule', hlo)

    self.assertAllClose(plain_stats, compiled_stats, rtol=2e-3, atol=1e-4)
    for a, b in zip(plain.network.variables, compiled.network.variables):
      self.assertAllClose(a, b, rtol=2e-3, atol=1e-5)
    self.assertEqual(int(compiled.learner_steps.numpy()), 1)
    if config.popart:
      self.assertAllClose(plain.popart.mu, compiled.popart.mu, rtol=1e-4, atol=1e-6)
      self.assertAllClose(plain.popart.variance, compiled.popart.variance, rtol=1e-4)

  def test_learner_runs_compiled(self):
    # The learner's own call path: the batch read outside, the device part
    # compiled inside it.
    config = _config(env_id='CartPole-v1', torso='mlp', action_repeat=1, use_lstm=False,
                     reward_clipping='none', jit_compile=True)
    spec = environments.env_spec(config)
    batch = _batch(config, spec)
    learner = learner_lib.Learner(
        config, self.get_temp_dir(),
        dataset_fn=lambda _: tf.data.Dataset.from_tensors(batch).repeat())
    try:
      status = learner.run(max_steps=3)
    finally:
      learner.close()
    self.assertEqual(status['learner_steps'], 3)
    self.assertEqual(int(learner.skipped_updates.numpy()), 0)

  def test_jit_compile_needs_one_device(self):
    with self.assertRaisesRegex(config_lib.ConfigError, 'jit_compile'):
      _config(jit_compile=True, strategy='mirrored').validate()


if __name__ == '__main__':
  tf.test.main()
