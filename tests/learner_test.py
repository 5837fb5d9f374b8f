"""The learner with its real Reverb server, fed by a real actor thread."""

import json
import os
import threading
import time

import numpy as np
import reverb
import tensorflow as tf

from impala_tf import actor as actor_lib
from impala_tf import checkpoints
from impala_tf import config as config_lib
from impala_tf import learner as learner_lib
from impala_tf import optimizers
from impala_tf import trajectories
from impala_tf import weights as weights_lib


def _config(**kwargs):
  base = dict(env_id='CartPole-v1', torso='mlp', action_repeat=1, unroll_length=5,
              envs_per_actor=4, batch_size=8, num_actors=1, queue_capacity=4,
              summary_every_steps=1, log_every_seconds=0.5, reward_clipping='none',
              total_environment_frames=10_000_000)
  base.update(kwargs)
  return config_lib.ImpalaConfig(**base)


class LearnerTest(tf.test.TestCase):

  def _train(self, config, logdir, steps):
    learner = learner_lib.Learner(config, logdir)
    stop = threading.Event()
    actor = actor_lib.Actor(config, f'127.0.0.1:{learner.port}', task=0)
    thread = threading.Thread(target=actor.run, kwargs={'stop': stop}, daemon=True)
    thread.start()
    try:
      status = learner.run(max_steps=steps)
      # Weights reached the actor: it acts with a version the learner made.
      for _ in range(100):
        if actor.weights_version > 0:
          break
        stop.wait(0.05)
      weights_seen = actor.weights_version
      published = next(reverb.Client(f'127.0.0.1:{learner.port}').sample(
          weights_lib.WEIGHTS_TABLE, emit_timesteps=False, unpack_as_table_signature=True))
    finally:
      stop.set()
      learner.close()
      thread.join(timeout=30)
    return learner, status, weights_seen, published

  def test_trains_checkpoints_and_resumes(self):
    logdir = self.get_temp_dir()
    config = _config()
    learner, status, weights_seen, published = self._train(config, logdir, steps=6)
    self.assertEqual(status['learner_steps'], 6)
    self.assertEqual(status['env_frames'], 6 * 8 * 5)
    self.assertTrue(status['done'])
    self.assertGreater(weights_seen, 0)
    self.assertEqual(int(published.data['version']), 6)
    self.assertAllClose(published.data['weights'][0], learner.network.variables[0].numpy())
    self.assertTrue(tf.train.latest_checkpoint(os.path.join(logdir, 'checkpoints')))
    with open(os.path.join(logdir, 'status.json')) as f:
      self.assertEqual(json.load(f)['learner_steps'], 6)
    self.assertGreaterEqual(status['policy_lag'], 0.0)
    self.assertTrue(tf.io.gfile.glob(os.path.join(logdir, 'train', 'events.*')))
    trained = [v.numpy() for v in learner.network.variables]
    slots = [v.numpy() for v in learner.optimizer.variables]

    # A new learner on the same logdir resumes: weights, optimiser state
    # (iterations, RMSProp accumulators), frame counter.
    resumed = learner_lib.Learner(config, logdir)
    try:
      self.assertEqual(resumed.step, 6)
      self.assertEqual(int(resumed.env_frames.numpy()), 240)
      for a, b in zip(trained, resumed.network.variables):
        self.assertAllEqual(a, b.numpy())
      for a, b in zip(slots, resumed.optimizer.variables):
        self.assertAllEqual(a, b.numpy())
      lr = optimizers.learning_rate_schedule(config)(resumed.optimizer.iterations)
      self.assertAllClose(config.learning_rate * (1 - 6 / config.total_learner_steps), lr)
    finally:
      resumed.close()

  def test_synchronous_mode_has_zero_policy_lag(self):
    config = _config(synchronous=True, envs_per_actor=8, batch_size=8)
    _, status, weights_seen, _ = self._train(config, self.get_temp_dir(), steps=5)
    self.assertEqual(status['learner_steps'], 5)
    self.assertEqual(status['policy_lag'], 0.0)
    self.assertGreaterEqual(weights_seen, 4)

  def test_stop_while_waiting_for_data_leaves_checkpoint(self):
    logdir = self.get_temp_dir()
    learner = learner_lib.Learner(_config(), logdir)
    try:
      threading.Timer(1.0, learner.request_stop).start()
      start = time.time()
      status = learner.run()  # no actor: the queue stays empty
      self.assertLess(time.time() - start, 20.0)
      self.assertEqual(status['learner_steps'], 0)
      self.assertTrue(tf.train.latest_checkpoint(os.path.join(logdir, 'checkpoints')))
    finally:
      learner.close()

  def test_non_finite_batch_is_skipped_and_counted(self):
    config = _config()
    spec_learner = learner_lib.Learner(config, self.get_temp_dir())
    signature = spec_learner._queue_signature
    spec_learner.close()
    rng = np.random.default_rng(0)

    def sample(s):
      shape = (config.items_per_batch, *s.shape)
      if s.dtype == tf.bool:
        return np.zeros(shape, bool)
      if s.dtype.is_integer:
        return np.zeros(shape, s.dtype.as_numpy_dtype)
      return rng.normal(size=shape).astype(s.dtype.as_numpy_dtype)

    good = trajectories.to_time_major(tf.nest.map_structure(sample, signature))
    bad = dict(good)
    reward = good['reward'].numpy()
    reward[2, 1] = np.nan
    bad['reward'] = tf.constant(reward)
    learner = learner_lib.Learner(
        config, self.get_temp_dir() + '/nan',
        dataset_fn=lambda _: tf.data.Dataset.from_tensors(bad).concatenate(
            tf.data.Dataset.from_tensors(good)).repeat())
    try:
      before = [v.numpy() for v in learner.network.variables]
      metrics = learner.train_step()  # the NaN batch
      self.assertEqual(metrics['skipped_updates'], 1.0)
      for a, b in zip(before, learner.network.variables):
        self.assertAllEqual(a, b.numpy())
      self.assertEqual(int(learner.optimizer.iterations.numpy()), 0)
      metrics = learner.train_step()  # a good batch trains
      self.assertEqual(metrics['skipped_updates'], 1.0)
      self.assertEqual(int(learner.optimizer.iterations.numpy()), 1)
      self.assertEqual(learner.step, 2)
      self.assertTrue(any(np.any(a != b.numpy())
                          for a, b in zip(before, learner.network.variables)))
    finally:
      learner.close()

  def test_unreadable_checkpoint_is_a_clear_error(self):
    logdir = self.get_temp_dir()
    self._train(_config(), logdir, steps=2)
    ckpt = tf.train.latest_checkpoint(os.path.join(logdir, 'checkpoints'))
    with open(ckpt + '.data-00000-of-00001', 'r+b') as f:
      f.truncate(16)  # damaged data file
    with self.assertRaisesRegex(checkpoints.CheckpointError, 'cannot be restored'):
      learner_lib.Learner(_config(), logdir)

  def test_interrupted_checkpoint_write_leaves_previous_one(self):
    logdir = self.get_temp_dir()
    self._train(_config(), logdir, steps=2)
    directory = os.path.join(logdir, 'checkpoints')
    good = tf.train.latest_checkpoint(directory)
    # What a crash mid-write leaves: files of a newer checkpoint that the
    # index was never updated to name.
    with open(os.path.join(directory, 'ckpt-9.index'), 'wb') as f:
      f.write(b'partial')
    resumed = learner_lib.Learner(_config(), logdir)
    try:
      self.assertEqual(tf.train.latest_checkpoint(directory), good)
      self.assertEqual(resumed.step, 2)
    finally:
      resumed.close()

  def test_lstm_learner_step(self):
    config = _config(use_lstm=True, lstm_units=16)
    learner, status, _, _ = self._train(config, self.get_temp_dir(), steps=3)
    self.assertEqual(status['learner_steps'], 3)
    self.assertTrue(np.isfinite(status['policy_lag']))


if __name__ == '__main__':
  tf.test.main()
