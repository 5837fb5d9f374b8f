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
from impala_tf import environments
from impala_tf import learner as learner_lib
from impala_tf import losses
from impala_tf import networks
from impala_tf import optimizers
from impala_tf import trajectories
from impala_tf import trajectory_queue
from impala_tf import weights as weights_lib
import small_runs  # tests/small_runs.py


def _config(**kwargs):
  return small_runs.cartpole(**dict(
      dict(queue_capacity=4, summary_every_steps=1, log_every_seconds=0.5,
           total_environment_frames=10_000_000, lr_decay_frames=100_000), **kwargs))


def _signature(config):
  spec = environments.env_spec(config)
  return trajectories.item_signature(
      trajectories.step_spec(spec, spec.distribution, config.envs_per_actor,
                             config.lstm_units if config.use_lstm else 0),
      config.unroll_length)


def _random_items(config, count, seed=0):
  """`count` queue items of random data ([count, T(+1), E, ...] columns)."""
  rng = np.random.default_rng(seed)

  def sample(s):
    shape = (count, *s.shape)
    if s.dtype == tf.bool:
      return rng.uniform(size=shape) < 0.05
    if s.dtype.is_integer:
      return rng.integers(0, 2, shape).astype(s.dtype.as_numpy_dtype)
    return rng.normal(size=shape).astype(s.dtype.as_numpy_dtype)

  items = tf.nest.map_structure(sample, _signature(config))
  items['task'] = rng.integers(0, config.num_tasks, items['task'].shape).astype(np.int32)
  return items


def _in_memory(batch):
  return lambda _: tf.data.Dataset.from_tensors(batch).repeat()


class LearnerTest(tf.test.TestCase):

  def _train(self, config, logdir, steps):
    """(learner, status, the version the actor acts with, the published weights)."""

    def published(learner, actor):
      # Weights reached the actor: it acts with a version the learner made.
      for _ in range(100):
        if actor.weights_version > 0:
          break
        time.sleep(0.05)
      return actor.weights_version, next(reverb.Client(f'127.0.0.1:{learner.port}').sample(
          weights_lib.WEIGHTS_TABLE, emit_timesteps=False, unpack_as_table_signature=True))

    learner, status, (weights_seen, weights) = small_runs.train_in_process(
        config, logdir, steps, on_trained=published)
    return learner, status, weights_seen, weights

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
      self.assertEqual(int(resumed.optimizer.iterations.numpy()), 6)
      # The schedule is a function of the frames consumed, which resume.
      self.assertAllClose(1 - 240 / config.lr_decay_frames,
                          optimizers.learning_rate_factor(config, resumed.env_frames))
    finally:
      resumed.close()

  def test_synchronous_mode_has_zero_policy_lag(self):
    config = _config(synchronous=True, envs_per_actor=8, batch_size=8)
    _, status, weights_seen, _ = self._train(config, self.get_temp_dir(), steps=5)
    self.assertEqual(status['learner_steps'], 5)
    self.assertEqual(status['policy_lag'], 0.0)
    self.assertGreaterEqual(weights_seen, 4)

  def _step_by_step(self, config, logdir, steps):
    """Trains `steps` steps with an actor thread, publishing after each as
    the learner's loop does; returns each batch's metrics and the learner."""
    learner = learner_lib.Learner(config, logdir)
    actor = actor_lib.Actor(config, f'127.0.0.1:{learner.port}', task=0)
    metrics = []
    with small_runs.acting(learner, actor):
      while learner.step < steps:
        m = learner.train_step()
        if m is not None:
          metrics.append(m)
          learner._publisher.publish(learner.step)   # pylint: disable=protected-access
    return metrics, learner

  def test_controlled_policy_lag_is_exact(self):
    # Every batch is acted with the weights of exactly 3 updates before.
    config = _config(synchronous=True, envs_per_actor=8, batch_size=8, policy_lag=3)
    metrics, _ = self._step_by_step(config, self.get_temp_dir(), 10)
    lags = [m['policy/lag'] for m in metrics]
    # Warm-up: the first 3 batches act with the initial weights (version 0).
    self.assertEqual(lags[:4], [0.0, 1.0, 2.0, 3.0])
    self.assertEqual(lags[3:], [3.0] * (len(lags) - 3))

  def test_controlled_lag_acts_with_the_weights_of_step_s_minus_k(self):
    # Through the learner's own loop (run): every publication at step s
    # carries the weights the learner had at step s − 3, and the actor loads
    # exactly those, each once, in order.
    config = _config(synchronous=True, envs_per_actor=8, batch_size=8, policy_lag=3)
    learner = learner_lib.Learner(config, self.get_temp_dir() + '/lag_weights')
    publisher = learner._publisher   # pylint: disable=protected-access
    snapshots = {0: publisher.read()}
    published = []
    client = reverb.Client(f'127.0.0.1:{learner.port}')
    original_publish = publisher.publish

    def recording_publish(step, finished=False):
      snapshots[step] = publisher.read()
      original_publish(step, finished=finished)
      data = next(client.sample(weights_lib.WEIGHTS_TABLE, emit_timesteps=False,
                                unpack_as_table_signature=True)).data
      published.append((step, int(data['version']), data['weights']))

    publisher.publish = recording_publish
    actor = actor_lib.Actor(config, f'127.0.0.1:{learner.port}', task=0)
    loaded = []
    original_set = actor.policy.set_weights

    def recording_set(values):
      loaded.append([np.array(v) for v in values])
      original_set(values)

    actor.policy.set_weights = recording_set
    with small_runs.acting(learner, actor):
      learner.run(max_steps=12)
    same = lambda a, b: all(np.array_equal(x, y) for x, y in zip(a, b))
    for step, version, weights in published:
      self.assertEqual(max(step - 3, 0), version, (step, version))
      self.assertTrue(same(snapshots[version], weights), step)
    # The weights of consecutive steps differ, so each load names one step.
    self.assertFalse(same(snapshots[4], snapshots[5]))
    loaded_steps = [[s for s in sorted(snapshots) if same(snapshots[s], w)][0] for w in loaded]
    self.assertEqual(list(range(len(loaded_steps))), loaded_steps)
    self.assertGreaterEqual(len(loaded_steps), 9)

  def test_sync_step_labels_batches_with_the_step_whose_weights_acted(self):
    config = _config(architecture='a2c_sync_step', num_actors=1, envs_per_actor=8,
                     batch_size=8)
    logdir = self.get_temp_dir() + '/sync_step_labels'

    def steps(learner, count):
      for _ in range(count):
        before = learner._publisher.read()   # pylint: disable=protected-access
        metrics = learner.train_step()
        # The batch was acted with the weights of the step before it ...
        acted = learner._input.source._stepper.policy.get_weights()   # pylint: disable=protected-access
        self.assertTrue(all(np.array_equal(a, b) for a, b in zip(before, acted)))
        # ... and says so: lag 0.
        self.assertEqual(0.0, metrics['policy/lag'])

    learner = learner_lib.Learner(config, logdir)
    try:
      learner.run(max_steps=3)
    finally:
      learner.close()
    resumed = learner_lib.Learner(config, logdir)
    try:
      self.assertEqual(3, resumed.step)
      steps(resumed, 2)   # after a resume too: labelled 3 and 4, not 1 and 2
      self.assertEqual(5, resumed.step)
    finally:
      resumed.close()

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
    good = trajectories.to_time_major(_random_items(config, config.items_per_batch))
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
      self.assertEqual(metrics['optimizer/skipped_updates'], 1.0)
      for a, b in zip(before, learner.network.variables):
        self.assertAllEqual(a, b.numpy())
      self.assertEqual(int(learner.optimizer.iterations.numpy()), 0)
      metrics = learner.train_step()  # a good batch trains
      self.assertEqual(metrics['optimizer/skipped_updates'], 1.0)
      self.assertEqual(int(learner.optimizer.iterations.numpy()), 1)
      self.assertEqual(learner.step, 2)
      self.assertTrue(any(np.any(a != b.numpy())
                          for a, b in zip(before, learner.network.variables)))
    finally:
      learner.close()

  def test_non_finite_observation_leaves_the_normaliser_as_it_was(self):
    config = _config(observation_normalization=True)
    good = trajectories.to_time_major(_random_items(config, config.items_per_batch))
    bad = dict(good)
    observation = good['observation'].numpy()
    observation[2, 1, 0] = np.inf
    bad['observation'] = tf.constant(observation)
    learner = learner_lib.Learner(
        config, self.get_temp_dir() + '/obs_inf',
        dataset_fn=lambda _: tf.data.Dataset.from_tensors(bad).concatenate(
            tf.data.Dataset.from_tensors(good)).repeat())
    normalizer = learner.network.normalizer
    try:
      metrics = learner.train_step()  # the Inf batch: no update, no merge
      self.assertEqual(metrics['optimizer/skipped_in_batch'], 2.0)   # the update and the merge
      self.assertEqual(int(learner.skipped_updates.numpy()), 2)
      self.assertAllEqual(np.zeros(4), normalizer.mean.numpy())
      self.assertAllEqual(np.ones(4), normalizer.var.numpy())
      self.assertEqual(0.0, float(normalizer.count.numpy()))
      learner.train_step()  # a good batch merges, and the statistics are its own
      flat = good['observation'].numpy().reshape(-1, 4)
      self.assertEqual(len(flat), float(normalizer.count.numpy()))
      self.assertAllClose(flat.mean(0), normalizer.mean.numpy(), rtol=1e-5, atol=1e-6)
      self.assertAllClose(flat.var(0), normalizer.var.numpy(), rtol=1e-4, atol=1e-6)
      self.assertEqual(int(learner.skipped_updates.numpy()), 2)
    finally:
      learner.close()

  def test_synchronous_run_is_on_policy_with_observation_normalisation(self):
    # The normaliser merges a batch after training on it, so the learner's
    # first (here only) update evaluates the batch under the statistics the
    # actor acted with: ρ = 1 and KL(μ‖π) = 0 on every batch.
    config = _config(synchronous=True, envs_per_actor=8, batch_size=8,
                     observation_normalization=True)
    metrics, learner = self._step_by_step(config, self.get_temp_dir() + '/sync_norm', 8)
    self.assertGreater(float(learner.network.normalizer.count.numpy()), 0.0)
    self.assertEqual([m['policy/lag'] for m in metrics], [0.0] * len(metrics))
    self.assertAllClose([1.0] * len(metrics), [m['policy/rho_mean'] for m in metrics],
                        atol=1e-5)
    self.assertAllClose([0.0] * len(metrics), [m['policy/kl_behaviour'] for m in metrics],
                        atol=1e-6)

  def test_initial_weights_follow_the_seed(self):
    def initial(seed, name):
      learner = learner_lib.Learner(_config(seed=seed, use_lstm=True, lstm_units=8),
                                    os.path.join(self.get_temp_dir(), name))
      try:
        return [v.numpy() for v in learner.network.variables]
      finally:
        learner.close()

    first, again, other = initial(3, 'a'), initial(3, 'b'), initial(4, 'c')
    for a, b in zip(first, again):
      self.assertAllEqual(a, b)
    kernels = [i for i, v in enumerate(first) if v.ndim == 2]
    self.assertNotEmpty(kernels)
    for i in kernels:
      self.assertNotAllClose(first[i], other[i])

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


  def test_sample_reuse_and_steps_per_call(self):
    # 2 epochs × 2 minibatches: 4 updates per batch; 3 batches per call.
    config = _config(num_epochs=2, num_minibatches=2, steps_per_call=3)
    batch = trajectories.to_time_major(_random_items(config, config.items_per_batch))
    learner = learner_lib.Learner(config, self.get_temp_dir(), dataset_fn=_in_memory(batch))
    try:
      metrics = learner.train_step()
      self.assertEqual(learner.step, 3)
      self.assertEqual(int(learner.optimizer.iterations.numpy()), 12)
      # Frames count the data consumed, once per batch, not per update.
      self.assertEqual(int(learner.env_frames.numpy()), 3 * config.frames_per_learner_step)
      self.assertEqual(int(learner.train_step_fn.learner_steps.numpy()), 3)
      self.assertEqual(metrics['optimizer/skipped_updates'], 0.0)
    finally:
      learner.close()

  def test_minibatches_partition_each_epoch(self):
    config = _config(batch_size=8, num_minibatches=4, num_epochs=2)
    learner = learner_lib.Learner(config, self.get_temp_dir(),
                                  dataset_fn=_in_memory(trajectories.to_time_major(
                                      _random_items(config, config.items_per_batch))))
    try:
      ids = np.arange(8, dtype=np.float32)
      batch = {'reward': tf.constant(np.tile(ids, (6, 1))),
               'core_state': (tf.constant(ids[:, None]),)}
      orders = []
      for epoch in range(2):
        step = learner.train_step_fn
        picked = [step._minibatch(batch, step.epoch_orders(), epoch, m) for m in range(4)]
        rows = [p['reward'].numpy()[0] for p in picked]
        for p, row in zip(picked, rows):
          self.assertLen(row, 2)
          # Every column is gathered with the same trajectories.
          self.assertAllEqual(row, p['reward'].numpy()[-1])
          self.assertAllEqual(row, p['core_state'][0].numpy()[:, 0])
        self.assertAllEqual(ids, np.sort(np.concatenate(rows)))
        orders.append(np.concatenate(rows))
      self.assertNotAllEqual(orders[0], orders[1])
    finally:
      learner.close()

  def test_diagnostics_match_an_independent_computation(self):
    config = _config(batch_size=8, clip_rho_threshold=1.0)
    items = _random_items(config, config.items_per_batch, seed=3)
    items['policy_params'] = items['policy_params'] * 2.0   # ratios away from 1
    batch = trajectories.to_time_major(items)
    learner = learner_lib.Learner(config, self.get_temp_dir(), dataset_fn=_in_memory(batch))
    try:
      # What the step sees: the network before its update.
      outputs, _ = learner.network.unroll(networks.NetworkInput(
          batch['observation'], batch['first'], batch['prev_action'], batch['reward']), ())
      loss_in = trajectories.loss_inputs(batch, config.discount)
      out = losses.impala_loss(
          environments.env_spec(config).distribution, outputs.policy_params[:-1],
          loss_in.behaviour_policy_params, loss_in.actions, loss_in.rewards,
          loss_in.discounts, outputs.baseline[:-1], outputs.baseline[-1], loss_in.mask,
          reward_clipping='none', baseline_cost=config.baseline_cost,
          entropy_cost=config.entropy_cost)
      mask = loss_in.mask.numpy() > 0
      vs, values = out.vs.numpy()[mask], outputs.baseline[:-1].numpy()[mask]
      rhos = np.exp(out.log_rhos.numpy())[mask]
      metrics = learner.train_step()
      self.assertAllClose(1 - np.var(vs - values) / np.var(vs),
                          metrics['baseline/explained_variance'], rtol=1e-3, atol=1e-4)
      self.assertAllClose(rhos.mean(), metrics['policy/rho_mean'], rtol=1e-4)
      self.assertAllClose((rhos > 1.0).mean(), metrics['policy/rho_truncated_fraction'])
      self.assertAllClose(out.entropy.numpy()[mask].mean(), metrics['policy/entropy'],
                          rtol=1e-5)
      self.assertAllClose(out.total_loss.numpy() / mask.sum(), metrics['loss/total'],
                          rtol=1e-4)
      self.assertAllClose(config.learning_rate * (1 - 0 / config.lr_decay_frames),
                          metrics['optimizer/learning_rate'])
      for group in ('torso', 'policy', 'baseline'):
        self.assertGreater(metrics[f'optimizer/update_ratio/{group}'], 0.0)
        self.assertGreater(metrics[f'optimizer/gradient_norm/{group}'], 0.0)
        self.assertGreater(metrics[f'optimizer/second_moment_rms/{group}'], 0.0)
      self.assertLessEqual(metrics['optimizer/gradient_norm/torso'],
                           metrics['optimizer/gradient_norm'] + 1e-6)
    finally:
      learner.close()

  def test_entropy_cost_follows_its_schedule_in_the_loss(self):
    # Linear decay of the entropy cost 0.5 → 0 over two batches' frames: the
    # cost the step uses is 0.5, 0.25, then 0 (and stays 0), and each batch's
    # total loss is pg + baseline_cost · baseline + that cost · entropy term.
    probe = _config(batch_size=8)
    config = _config(batch_size=8, entropy_cost=0.5, entropy_schedule='linear',
                     entropy_end_factor=0.0,
                     lr_decay_frames=2 * probe.frames_per_learner_step)
    batch = trajectories.to_time_major(_random_items(config, config.items_per_batch, seed=5))
    learner = learner_lib.Learner(config, self.get_temp_dir(), dataset_fn=_in_memory(batch))
    try:
      for expected_cost in (0.5, 0.25, 0.0, 0.0):
        m = learner.train_step()
        self.assertAllClose(expected_cost, m['loss/entropy_cost'])
        self.assertGreater(abs(m['loss/entropy']), 1e-3)
        self.assertAllClose(
            m['loss/policy_gradient'] + config.baseline_cost * m['loss/baseline']
            + expected_cost * m['loss/entropy'], m['loss/total'], rtol=1e-4, atol=1e-6)
    finally:
      learner.close()

  def test_entropy_schedule_refused_where_no_learner_loss_has_it(self):
    with self.assertRaisesRegex(ValueError, "entropy_schedule must be 'constant'.*a3c"):
      _config(architecture='a3c', entropy_schedule='cosine')
    with self.assertRaisesRegex(ValueError, 'entropy_schedule must be one of'):
      _config(entropy_schedule='exponential')

  def test_no_unroll_lost_when_actors_stall(self):
    # Two unrolls make a batch. Three are written, then nothing for longer
    # than a stream's timeout, then one more: the third must be trained on
    # with the fourth, not dropped with a half-filled batch.
    config = _config(batch_size=8, envs_per_actor=4)
    learner = learner_lib.Learner(config, self.get_temp_dir())
    items = _random_items(config, 4)
    items['weights_version'] = np.stack(
        [np.full(items['weights_version'].shape[1:], 100 * (i + 1), np.int64)
         for i in range(4)])
    client = reverb.Client(f'127.0.0.1:{learner.port}')
    writer = client.trajectory_writer(num_keep_alive_refs=1)

    def write(i):
      writer.append(tf.nest.map_structure(lambda x: x[i], items))
      writer.create_item(trajectory_queue.TRAJECTORY_TABLE, 1.0,
                         tf.nest.map_structure(lambda c: c[-1], writer.history))
      writer.flush()

    def train():
      for _ in range(2000):
        metrics = learner.train_step()
        if metrics is not None:
          return metrics
      self.fail('no batch within 10 s')

    try:
      for i in range(3):
        write(i)
      first = train()
      # Versions 100 and 200 made the first batch (step 0).
      self.assertAllClose(0 - 150, first['policy/lag'])
      self.assertIsNone(learner.train_step())   # one unroll is not a batch
      time.sleep(trajectory_queue.STREAM_TIMEOUT_MS / 1000 * 1.5)
      write(3)
      second = train()
      self.assertAllClose(1 - 350, second['policy/lag'])   # versions 300 and 400
      self.assertEqual(learner.step, 2)
    finally:
      writer.close()
      learner.close()


  def test_experience_replay_mixes_fresh_and_replayed_unrolls(self):
    # Half of each 2-unroll batch from the replay buffer: one fresh unroll
    # per step, so frames count one unroll's frames per step.
    config = _config(replay_fraction=0.5, replay_capacity=50)
    self.assertEqual((config.fresh_items_per_batch, config.replayed_items_per_batch), (1, 1))
    learner, status, weights_seen, _ = self._train(config, self.get_temp_dir(), steps=8)
    self.assertEqual(status['learner_steps'], 8)
    self.assertEqual(status['env_frames'], 8 * 4 * 5)
    self.assertGreater(weights_seen, 0)

  def test_replayed_unrolls_are_not_counted_twice(self):
    config = _config(batch_size=8, replay_fraction=0.5)
    items = _random_items(config, 2)
    items['last'][:] = False
    items['last'][0, 3, 1] = True          # one episode ends in the fresh unroll
    items['last'][1, 2, :] = True          # four in the replayed one
    items['weights_version'][0] = 10
    items['weights_version'][1] = 0
    batch = trajectories.to_time_major(items)
    learner = learner_lib.Learner(config, self.get_temp_dir(), dataset_fn=_in_memory(batch))
    try:
      metrics = learner.train_step()
      self.assertEqual(learner._episodes, 1)   # pylint: disable=protected-access
      self.assertAllClose(0 - 10, metrics['policy/lag'])   # fresh unrolls only
      self.assertEqual(int(learner.env_frames.numpy()), 4 * 5)
    finally:
      learner.close()


  def test_each_task_head_learns_only_from_its_own_task(self):
    config = _config(tasks=('CartPole-v1', 'CartPole-v1'), task_reward_scales=(1.0, 1000.0),
                     popart=True, popart_step_size=0.1, optimizer='adam')
    items = _random_items(config, config.items_per_batch, seed=5)
    items['task'][:] = 0                       # every trajectory plays task 0
    items['reward'] = np.abs(items['reward']) * 30.0
    batch = trajectories.to_time_major(items)
    learner = learner_lib.Learner(config, self.get_temp_dir(), dataset_fn=_in_memory(batch))
    try:
      head = learner.network.baseline_head
      kernel, bias = head.kernel.numpy(), head.bias.numpy()
      for _ in range(3):
        learner.train_step()
      popart = learner.train_step_fn.popart
      self.assertNotAllClose(kernel[:, 0], head.kernel.numpy()[:, 0])
      self.assertAllEqual(kernel[:, 1], head.kernel.numpy()[:, 1])
      self.assertAllEqual(bias[1], head.bias.numpy()[1])
      # Task 0's statistics moved towards its targets; task 1's did not.
      self.assertGreater(float(popart.mu[0]), 1.0)
      self.assertEqual(float(popart.mu[1]), 0.0)
      self.assertEqual(float(popart.variance[1]), 1.0)
    finally:
      learner.close()

  def test_popart_takes_each_target_once_under_sample_reuse(self):
    # 3 epochs × 2 minibatches: six updates see every target three times;
    # the statistics must take each in once, from the first pass.
    for epochs, minibatches in ((1, 1), (3, 2)):
      config = _config(popart=True, popart_step_size=1e-3, num_epochs=epochs,
                       num_minibatches=minibatches, optimizer='adam')
      items = _random_items(config, config.items_per_batch, seed=7)
      items['last'][:] = False
      items['reward'] = np.abs(items['reward']) * 50.0
      learner = learner_lib.Learner(config, self.get_temp_dir() + f'/reuse{epochs}',
                                    dataset_fn=_in_memory(trajectories.to_time_major(items)))
      try:
        learner.train_step()
        popart = learner.train_step_fn.popart
        transitions = config.unroll_length * config.batch_size
        self.assertEqual(transitions, int(popart.targets.numpy()[0]))
        # One batch of 40 targets with β = 1e-3 per target moves μ by
        # β_40 = 1 − 0.999^40 of the way to the targets' mean (about 100).
        self.assertBetween(float(popart.mu[0]) / (1 - 0.999 ** 40), 20.0, 500.0)
      finally:
        learner.close()

  def test_popart_statistics_are_checkpointed_and_resumed(self):
    logdir = self.get_temp_dir()
    config = _config(popart=True, popart_step_size=0.1, reward_clipping='none')
    learner, status, _, _ = self._train(config, logdir, steps=4)
    popart = learner.train_step_fn.popart
    mu, var = popart.mu.numpy(), popart.variance.numpy()
    self.assertNotAllClose([0.0], mu)
    resumed = learner_lib.Learner(config, logdir)
    try:
      self.assertAllEqual(mu, resumed.train_step_fn.popart.mu.numpy())
      self.assertAllEqual(var, resumed.train_step_fn.popart.variance.numpy())
    finally:
      resumed.close()

  def test_per_task_reporting(self):
    config = _config(tasks=('CartPole-v1', 'CartPole-v1'), task_reward_scales=(1.0, 10.0),
                     num_actors=2, popart=True, reward_clipping='none',
                     observation_normalization=True)
    self.assertEqual(config.task_names, ('CartPole-v1', 'CartPole-v1_x10'))
    learner = learner_lib.Learner(config, self.get_temp_dir())
    stop = threading.Event()
    actors = [actor_lib.Actor(config, f'127.0.0.1:{learner.port}', task=i) for i in range(2)]
    self.assertEqual([a.task_id for a in actors], [0, 1])
    threads = [threading.Thread(target=a.run, kwargs={'stop': stop}, daemon=True)
               for a in actors]
    for t in threads:
      t.start()
    try:
      status = learner.run(max_steps=60)
    finally:
      stop.set()
      learner.close()
      for t in threads:
        t.join(timeout=30)
    per_task = status['episode_return_mean_per_task']
    self.assertEqual(sorted(per_task), ['CartPole-v1', 'CartPole-v1_x10'])
    # Random-ish CartPole episodes last ~10-40 steps; ×10 rewards show in the
    # second task's returns.
    self.assertGreater(per_task['CartPole-v1_x10'], 3 * per_task['CartPole-v1'])
    self.assertIsNone(status['human_normalized'])   # no Atari game
    tags = set()
    from tensorflow.core.util import event_pb2  # pylint: disable=g-import-not-at-top
    for path in tf.io.gfile.glob(os.path.join(learner._logdir, 'train', 'events.*')):  # pylint: disable=protected-access
      for record in tf.data.TFRecordDataset(path):
        for value in event_pb2.Event.FromString(record.numpy()).summary.value:
          tags.add(value.tag)
    for name in config.task_names:
      self.assertIn(f'{name}/episode_return', tags)
      self.assertIn(f'{name}/popart_sigma', tags)
    # The learner merged each task's observations into that task's statistics.
    normalizer = learner.network.normalizer
    self.assertEqual((2, 4), tuple(normalizer.mean.shape))
    self.assertAllGreater(normalizer.count.numpy(), 1000.0)

  def test_per_task_observation_statistics_take_each_tasks_observations(self):
    config = _config(tasks=('CartPole-v1', 'CartPole-v1'), num_actors=2,
                     observation_normalization=True)
    items = _random_items(config, config.items_per_batch, seed=11)
    tasks = np.zeros_like(items['task'])
    tasks[:, :, 1::2] = 1                           # envs 1, 3: task 1, for the whole unroll
    items['task'] = tasks
    items['observation'] = items['observation'] + 10.0 * tasks[..., None]
    batch = trajectories.to_time_major(items)
    learner = learner_lib.Learner(config, self.get_temp_dir(), dataset_fn=_in_memory(batch))
    try:
      learner.train_step()
      normalizer = learner.network.normalizer
      observation, task = batch['observation'].numpy(), batch['task'].numpy()
      for k in (0, 1):
        own = observation[task == k]
        self.assertAllClose(own.mean(0), normalizer.mean[k], rtol=1e-4, atol=1e-4)
        self.assertAllClose(own.var(0), normalizer.var[k], rtol=1e-3)
        self.assertEqual(len(own), float(normalizer.count[k]))
    finally:
      learner.close()


if __name__ == '__main__':
  tf.test.main()
