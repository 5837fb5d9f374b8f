"""Keras agent networks: shapes, step/unroll agreement, checkpoints."""

import dataclasses
import os

from absl.testing import parameterized
import numpy as np
import tensorflow as tf

from impala_tf import config as config_lib
from impala_tf import distributions
from impala_tf import networks


def _config(**kwargs):
  base = dict(env_id='CartPole-v1', torso='mlp', envs_per_actor=1, batch_size=4)
  base.update(kwargs)
  return config_lib.ImpalaConfig(**base)


def _inputs(rng, t, b, obs_shape, num_actions, first=None, dtype=np.float32):
  if dtype == np.uint8:
    obs = rng.integers(0, 256, size=(t, b) + obs_shape).astype(np.uint8)
  else:
    obs = rng.normal(size=(t, b) + obs_shape).astype(np.float32)
  if first is None:
    first = np.zeros((t, b), bool)
  return networks.NetworkInput(
      observation=obs,
      first=first,
      prev_action=rng.integers(0, num_actions, size=(t, b)).astype(np.int32),
      prev_reward=rng.normal(size=(t, b)).astype(np.float32))


class NetworkShapesTest(tf.test.TestCase, parameterized.TestCase):

  @parameterized.named_parameters(
      ('mlp', 'mlp', (4,), np.float32, False, False),
      ('mlp_lstm', 'mlp', (4,), np.float32, True, False),
      ('shallow', 'shallow', (4, 84, 84), np.uint8, False, True),
      ('shallow_lstm', 'shallow', (4, 84, 84), np.uint8, True, True),
      ('nature', 'nature', (4, 84, 84), np.uint8, False, True),
      ('resnet', 'resnet', (84, 84, 3), np.uint8, False, False),
  )
  def test_shapes(self, torso, obs_shape, dtype, use_lstm, channels_first):
    dist = distributions.Categorical(6)
    net = networks.make_network(_config(torso=torso, use_lstm=use_lstm, lstm_units=32),
                                obs_shape, dist, channels_first=channels_first)
    rng = np.random.default_rng(0)
    out, state = net.unroll(_inputs(rng, 3, 2, obs_shape, 6, dtype=dtype),
                            net.initial_state(2))
    self.assertEqual(out.policy_params.shape, (3, 2, 6))
    self.assertEqual(out.baseline.shape, (3, 2))
    if use_lstm:
      self.assertEqual([s.shape for s in state], [(2, 32), (2, 32)])
    else:
      self.assertEqual(state, ())

  def test_resnet_has_fifteen_conv_layers(self):
    net = networks.make_network(_config(torso='resnet'), (84, 84, 3),
                                distributions.Categorical(4))
    convs = [v for v in net.trainable_variables
             if 'conv2d' in v.name and v.name.endswith('kernel:0')]
    self.assertLen(convs, 15)

  def test_gaussian_head(self):
    dist = distributions.DiagGaussian(3)
    net = networks.make_network(_config(use_lstm=True, lstm_units=16), (5,), dist)
    rng = np.random.default_rng(1)
    inputs = networks.NetworkInput(
        observation=rng.normal(size=(4, 2, 5)).astype(np.float32),
        first=np.zeros((4, 2), bool),
        prev_action=rng.normal(size=(4, 2, 3)).astype(np.float32),
        prev_reward=np.zeros((4, 2), np.float32))
    out, _ = net.unroll(inputs, net.initial_state(2))
    self.assertEqual(out.policy_params.shape, (4, 2, 6))


class ObservationNormalizerTest(tf.test.TestCase):

  def test_merged_moments_equal_the_moments_of_all_data(self):
    layer = networks.ObservationNormalizer()
    layer.build([None, 3])
    rng = np.random.default_rng(5)
    data = (rng.normal(2.0, 3.0, size=(1200, 3)) * [1.0, 4.0, 0.1]).astype(np.float32)
    x = rng.normal(size=(5, 3)).astype(np.float32)
    self.assertAllClose(np.clip(x, -5, 5), layer(x), atol=1e-6)   # identity before updates
    for chunk in np.split(data, [7, 300, 301, 900]):               # uneven batches
      layer.update(*layer.moments(chunk))
    self.assertAllClose(data.mean(0), layer.mean, rtol=1e-5)
    self.assertAllClose(data.var(0), layer.var, rtol=1e-4)
    self.assertEqual(1200, float(layer.count))
    expected = np.clip((x - data.mean(0)) / np.sqrt(data.var(0) + 1e-8), -5, 5)
    self.assertAllClose(expected, layer(x), rtol=1e-4, atol=1e-5)
    far = np.full((1, 3), 1e6, np.float32)
    self.assertAllClose(np.full((1, 3), 5.0), layer(far))

  def test_statistics_stay_exact_when_the_mean_dwarfs_the_spread(self):
    # A float observation component near 1e4 with σ ~ 1 (a position or a
    # counter): in float32 a one-pass Σx²/n − mean² loses the variance to
    # cancellation (80 % off here before the fix); the merged two-pass moments match
    # numpy's in float64.
    layer = networks.ObservationNormalizer()
    layer.build([None, 2])
    rng = np.random.default_rng(11)
    data = np.stack([rng.normal(1e4, 1.0, 2000), rng.normal(-3e3, 0.5, 2000)], 1)
    data32 = data.astype(np.float32)
    for chunk in np.split(data32, [1, 256, 1000, 1500]):
      self.assertTrue(bool(layer.update(*layer.moments(chunk))))
    self.assertAllClose(data32.astype(np.float64).mean(0), layer.mean, rtol=1e-6)
    self.assertAllClose(data32.astype(np.float64).var(0), layer.var, rtol=1e-3)
    # The network then sees unit-scale inputs, not values clipped to ±5.
    x = np.array([[1e4 + 1.0, -3e3 - 0.5]], np.float32)
    self.assertAllClose([[1.0, -1.0]], layer(x), atol=0.05)

  def test_per_task_statistics_equal_each_tasks_own_moments(self):
    layer = networks.ObservationNormalizer(num_tasks=3)
    layer.build([None, 2])
    rng = np.random.default_rng(8)
    data = {0: rng.normal(10.0, 2.0, (500, 2)), 1: rng.normal(-3.0, 0.5, (300, 2))}
    x = rng.normal(size=(4, 2)).astype(np.float32)
    task = np.array([0, 1, 2, 1], np.int32)
    self.assertAllClose(np.clip(x, -5, 5), layer(x, task), atol=1e-6)
    # Mixed batches, uneven; task 2 never appears.
    obs = np.concatenate([data[0], data[1]]).astype(np.float32)
    ids = np.array([0] * 500 + [1] * 300, np.int32)
    order = rng.permutation(800)
    obs, ids = obs[order], ids[order]
    for lo, hi in ((0, 5), (5, 400), (400, 800)):
      self.assertTrue(bool(layer.update(*layer.moments(obs[lo:hi], ids[lo:hi]))))
    for k in (0, 1):
      self.assertAllClose(data[k].mean(0), layer.mean[k], rtol=1e-4)
      self.assertAllClose(data[k].var(0), layer.var[k], rtol=1e-3)
    self.assertAllClose([500.0, 300.0, 0.0], layer.count)
    self.assertAllClose([0.0, 0.0], layer.mean[2])
    self.assertAllClose([1.0, 1.0], layer.var[2])
    # Each row by its own task's statistics (task 2: still the identity).
    means = [data[0].mean(0), data[1].mean(0), np.zeros(2)]
    vars_ = [data[0].var(0), data[1].var(0), np.ones(2)]
    expected = np.stack([np.clip((x[i] - means[k]) / np.sqrt(vars_[k] + 1e-8), -5, 5)
                         for i, k in enumerate(task)])
    self.assertAllClose(expected, layer(x, task), rtol=1e-3, atol=1e-4)
    # A non-finite observation skips its task's merge only.
    bad = np.array([[np.nan, 0.0], [1.0, 1.0]], np.float32)
    before = layer.mean.numpy().copy()
    self.assertFalse(bool(layer.update(*layer.moments(bad, np.array([0, 1], np.int32)))))
    self.assertAllClose(before[0], layer.mean[0])
    self.assertAllClose([500.0, 301.0, 0.0], layer.count)

  def test_network_normalises_per_task_only_with_each_steps_task(self):
    cfg = _config(torso='shallow', observation_normalization=True,
                  tasks=('ALE/Pong-v5', 'ALE/Breakout-v5'), full_action_space=True)
    net = networks.make_network(cfg, (4, 84, 84), distributions.Categorical(18),
                                channels_first=True)
    self.assertTrue(net.normalizes_per_task)
    self.assertEqual((2, 4, 84, 84), tuple(net.normalizer.mean.shape))
    shared = networks.make_network(
        dataclasses.replace(cfg, observation_normalization_per_task=False), (4, 84, 84),
        distributions.Categorical(18), channels_first=True)
    self.assertFalse(shared.normalizes_per_task)
    self.assertEqual((4, 84, 84), tuple(shared.normalizer.mean.shape))
    rng = np.random.default_rng(9)
    inputs = _inputs(rng, 2, 3, (4, 84, 84), 18, dtype=np.uint8)
    with self.assertRaisesRegex(ValueError, 'per task'):
      net.unroll(inputs, ())
    frames = inputs.observation.reshape(-1, 4, 84, 84)
    net.normalizer.update(*net.normalizer.moments(frames, np.zeros(6, np.int32)))
    as_0, _ = net.unroll(inputs, (), np.zeros((2, 3), np.int32))
    as_1, _ = net.unroll(inputs, (), np.ones((2, 3), np.int32))
    self.assertNotAllClose(as_0.policy_params, as_1.policy_params)
    # A step with the task equals the unroll's first step.
    stepped, _ = net.step(tf.nest.map_structure(lambda x: x[0], inputs), (),
                          np.ones(3, np.int32))
    self.assertAllClose(as_1.policy_params[0], stepped.policy_params, rtol=1e-5, atol=1e-6)

  def test_network_normalises_scaled_frames_and_publishes_the_statistics(self):
    cfg = _config(torso='shallow', observation_normalization=True)
    net = networks.make_network(cfg, (4, 84, 84), distributions.Categorical(6),
                                channels_first=True)
    plain = networks.make_network(dataclasses.replace(cfg, observation_normalization=False),
                                  (4, 84, 84), distributions.Categorical(6),
                                  channels_first=True)
    self.assertLen(net.variables, len(plain.variables) + 3)   # mean, var, count
    self.assertLen(net.trainable_variables, len(plain.trainable_variables))
    rng = np.random.default_rng(6)
    inputs = _inputs(rng, 2, 3, (4, 84, 84), 6, dtype=np.uint8)
    before, _ = net.unroll(inputs, ())
    frames = inputs.observation.reshape(-1, 4, 84, 84)
    net.normalizer.update(*net.normalizer.moments(frames))   # uint8, scaled inside
    self.assertAllClose(frames.mean(0) / 255.0, net.normalizer.mean, atol=1e-5)
    after, _ = net.unroll(inputs, ())
    self.assertNotAllClose(before.policy_params, after.policy_params)


class ActionMaskTest(tf.test.TestCase):

  def test_masked_actions_have_probability_zero_and_finite_losses(self):
    masks = np.zeros((2, 6), bool)
    masks[0, [0, 1, 3]] = True
    masks[1, [2, 5]] = True
    cfg = _config(tasks=('CartPole-v1', 'CartPole-v1'), num_actors=2, use_lstm=True,
                  lstm_units=8)
    dist = distributions.Categorical(6)
    net = networks.make_network(cfg, (4,), dist, action_masks=masks)
    plain = networks.make_network(cfg, (4,), dist)
    plain.set_weights(net.get_weights())
    self.assertTrue(net.needs_task)
    rng = np.random.default_rng(3)
    inputs = _inputs(rng, 5, 4, (4,), 6)
    task = np.tile(np.array([0, 1, 1, 0], np.int32), (5, 1))
    with self.assertRaisesRegex(ValueError, 'per task'):
      net.unroll(inputs, net.initial_state(4))
    with tf.GradientTape() as tape:
      out, _ = net.unroll(inputs, net.initial_state(4), task)
      logits = out.policy_params
      entropy = dist.entropy(logits)
      allowed = masks[task]
      actions = np.where(allowed, rng.uniform(size=allowed.shape), -1).argmax(-1)
      log_prob = dist.log_prob(logits, actions)
      loss = -tf.reduce_sum(log_prob) - 0.01 * tf.reduce_sum(entropy)
    grads = tape.gradient(loss, net.trainable_variables)
    ref, _ = plain.unroll(inputs, plain.initial_state(4))
    self.assertAllClose(np.where(allowed, ref.policy_params, networks.MASKED_LOGIT), logits)
    probs = tf.nn.softmax(logits).numpy()
    self.assertAllEqual(np.zeros_like(probs[~allowed]), probs[~allowed])
    self.assertAllClose(np.ones((5, 4)), probs.sum(-1), atol=1e-6)
    self.assertTrue(np.isfinite(entropy.numpy()).all())
    grads = [g for g in grads if g is not None]   # all but the baseline head's
    self.assertLen(grads, len(net.trainable_variables) - 2)
    self.assertTrue(all(np.isfinite(g.numpy()).all() for g in grads))
    # Entropy over the allowed actions only: at most log |allowed|.
    self.assertAllLessEqual(entropy.numpy() - np.log(allowed.sum(-1)), 1e-5)
    samples = dist.sample(tf.reshape(logits, [-1, 6]), tf.constant([1, 2], tf.int64))
    self.assertTrue(allowed.reshape(-1, 6)[np.arange(20), samples.numpy()].all())


class StepUnrollAgreementTest(tf.test.TestCase, parameterized.TestCase):

  @parameterized.parameters(False, True)
  def test_step_equals_unroll_with_episode_boundary(self, use_lstm):
    dist = distributions.Categorical(3)
    net = networks.make_network(_config(use_lstm=use_lstm, lstm_units=16), (4,), dist)
    rng = np.random.default_rng(2)
    first = np.zeros((7, 2), bool)
    first[3, 0] = True   # episode boundary inside the unroll, env 0
    first[5, 1] = True   # and later in env 1
    inputs = _inputs(rng, 7, 2, (4,), 3, first=first)
    state0 = tf.nest.map_structure(lambda s: s + 0.3, net.initial_state(2))
    unrolled, final = net.unroll(inputs, state0)

    step_fn = tf.function(net.step)
    state = state0
    stepped = []
    for t in range(7):
      out, state = step_fn(tf.nest.map_structure(lambda x, t=t: x[t], inputs), state)
      stepped.append(out)
    self.assertAllClose(unrolled.policy_params,
                        np.stack([o.policy_params for o in stepped]), atol=1e-5)
    self.assertAllClose(unrolled.baseline, np.stack([o.baseline for o in stepped]), atol=1e-5)
    if use_lstm:
      self.assertAllClose(final, state, atol=1e-5)

  def test_lstm_state_is_reset_at_episode_start(self):
    dist = distributions.Categorical(3)
    net = networks.make_network(_config(use_lstm=True, lstm_units=16), (4,), dist)
    rng = np.random.default_rng(3)
    first = np.zeros((5, 1), bool)
    first[2, 0] = True
    inputs = _inputs(rng, 5, 1, (4,), 3, first=first)
    unrolled, _ = net.unroll(inputs, net.initial_state(1))
    # The tail from the boundary on, run from a fresh state, must match:
    # nothing before the boundary may leak through the state or prev action.
    tail = tf.nest.map_structure(lambda x: x[2:], inputs)
    fresh, _ = net.unroll(tail, net.initial_state(1))
    self.assertAllClose(unrolled.policy_params[2:], fresh.policy_params, atol=1e-6)
    # And it is not trivially equal: without the boundary the outputs differ.
    no_reset = inputs._replace(first=np.zeros((5, 1), bool))
    other, _ = net.unroll(no_reset, net.initial_state(1))
    self.assertNotAllClose(other.policy_params[2:], fresh.policy_params, atol=1e-4)


class CheckpointTest(tf.test.TestCase):

  def test_save_restore_gives_identical_outputs(self):
    dist = distributions.Categorical(6)
    cfg = _config(torso='shallow', use_lstm=True, lstm_units=32)
    net = networks.make_network(cfg, (4, 84, 84), dist, channels_first=True)
    rng = np.random.default_rng(4)
    inputs = _inputs(rng, 3, 2, (4, 84, 84), 6, dtype=np.uint8)
    before, _ = net.unroll(inputs, net.initial_state(2))
    path = tf.train.Checkpoint(network=net).save(os.path.join(self.get_temp_dir(), 'ckpt'))

    tf.keras.utils.set_random_seed(123)  # different initial weights
    restored = networks.make_network(cfg, (4, 84, 84), dist, channels_first=True)
    fresh, _ = restored.unroll(inputs, restored.initial_state(2))
    self.assertNotAllClose(before.policy_params, fresh.policy_params)
    tf.train.Checkpoint(network=restored).restore(path).assert_existing_objects_matched()
    after, _ = restored.unroll(inputs, restored.initial_state(2))
    self.assertAllEqual(before.policy_params, after.policy_params)
    self.assertAllEqual(before.baseline, after.baseline)


if __name__ == '__main__':
  tf.test.main()
