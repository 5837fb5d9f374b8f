"""The learner with its real Reverb server, fed by a real actor thread."""

import json
import os
import threading
import time

import numpy as np
import reverb
import tensorflow as tf

from impala_tf import actor as actor_lib
from impala_tf import config as config_lib
from impala_tf import learner as learner_lib
from impala_tf import optimizers
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

  def test_lstm_learner_step(self):
    config = _config(use_lstm=True, lstm_units=16)
    learner, status, _, _ = self._train(config, self.get_temp_dir(), steps=3)
    self.assertEqual(status['learner_steps'], 3)
    self.assertTrue(np.isfinite(status['policy_lag']))


if __name__ == '__main__':
  tf.test.main()
