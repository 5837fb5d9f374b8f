"""The learner: hosts the Reverb server, trains with V-trace, publishes weights.

One training step:
  1. `_compute` (tf.function, under the strategy): takes the next batch from
     the tf.data pipeline, runs the network over the [T+1, B] unroll,
     computes the IMPALA loss and its gradients, all-reduces them (SUM:
     every replica's loss is a sum over its share of the batch, so the sum
     of replica gradients is the gradient of the global-batch loss, exactly
     as on one device), clips them by global norm, and reports whether
     loss and gradients are finite.
  2. `_apply` (tf.function): the optimiser update, only if they are; a
     non-finite step is skipped and counted (`skipped_updates`).
  3. Python: publish weights, write summaries, checkpoints, the status file.

Few tensors cross into Python per step: the gradients as one flat vector,
the statistics as one vector, the finished episodes as one array, and the
counters are mirrored in Python ints. TF 2.15 under Python 3.11 leaks a
little memory for every EagerTensor it creates (tensorflow/tensorflow#62551;
see graph_policy), so a long run must not create dozens per step.
"""

import collections
import json
import os
import signal
import time

from absl import logging
import numpy as np
import reverb
import tensorflow as tf

from impala_tf import checkpoints
from impala_tf import environments
from impala_tf import export
from impala_tf import losses
from impala_tf import networks
from impala_tf import optimizers
from impala_tf import trajectories
from impala_tf import trajectory_queue
from impala_tf import weights as weights_lib

STATUS_FILE = 'status.json'

# The step statistics `_compute` returns, in order, as one float32 vector.
# Sums over the global batch (replica sums, SUM-reduced) except the last two.
_STATS = ('loss/total', 'loss/policy_gradient', 'loss/baseline', 'loss/entropy',
          'entropy_sum', 'transitions', 'weights_version_sum', 'trajectories', 'nonfinite',
          'gradient_norm', 'learning_rate')


def make_strategy(name: str) -> tf.distribute.Strategy:
  """The tf.distribute strategy the config names."""
  if name == 'default':
    return tf.distribute.get_strategy()
  if name == 'mirrored':
    devices = [d.name for d in tf.config.list_logical_devices('GPU')] or [
        d.name for d in tf.config.list_logical_devices('CPU')]
    return tf.distribute.MirroredStrategy(devices)
  if name == 'tpu':
    resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu='')
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
    return tf.distribute.TPUStrategy(resolver)
  raise ValueError(f"strategy must be 'default', 'mirrored' or 'tpu', got {name!r}.")


def _write_json_atomically(path, payload):
  tmp = f'{path}.tmp.{os.getpid()}'
  with open(tmp, 'w') as f:
    json.dump(payload, f)
  os.replace(tmp, path)


class Learner:
  """Trains one network from the trajectory queue it hosts."""

  def __init__(self, config, logdir: str, port: int = 0, strategy=None, dataset_fn=None):
    """
    Args:
      config: the ImpalaConfig.
      logdir: checkpoints, summaries and status go here; resumed if present.
      port: the Reverb server's port (0: any free one, see `self.port`).
      strategy: a tf.distribute strategy (default: the one config names).
      dataset_fn: `fn(tf.distribute.InputContext) -> tf.data.Dataset` of one
        replica's time-major batches, to train on instead of the trajectory
        queue (benchmarks and strategy-equivalence tests).
    """
    self._config = config.validate()
    self._logdir = logdir
    os.makedirs(logdir, exist_ok=True)
    spec = environments.env_spec(config)
    self._env_spec = spec
    self._dist = spec.distribution
    self._strategy = strategy or make_strategy(config.strategy)
    with self._strategy.scope():
      self.network = networks.make_network(
          config, spec.observation_shape, self._dist, spec.channels_first)
      self.optimizer = optimizers.make_optimizer(config)
      self._lr_schedule = optimizers.learning_rate_schedule(config)
      self.optimizer.build(self.network.trainable_variables)
      self.env_frames = tf.Variable(0, dtype=tf.int64, trainable=False, name='env_frames')
      self.skipped_updates = tf.Variable(0, dtype=tf.int64, trainable=False,
                                         name='skipped_updates')
    self._checkpoints = checkpoints.Checkpointer(
        os.path.join(logdir, 'checkpoints'), config.checkpoints_to_keep,
        network=self.network, optimizer=self.optimizer, env_frames=self.env_frames,
        skipped_updates=self.skipped_updates)
    self._checkpoints.restore_latest()
    # Python mirrors of the counters, kept in step with the variables: reading
    # a variable creates an EagerTensor, and this is read every step.
    self._skipped = int(self.skipped_updates.numpy())
    self._step = int(self.optimizer.iterations.numpy()) + self._skipped
    self._frames = int(self.env_frames.numpy())
    self._grad_shapes = [v.shape for v in self.network.trainable_variables]
    self._grad_sizes = [s.num_elements() for s in self._grad_shapes]

    step_specs = trajectories.step_spec(
        spec, self._dist, config.envs_per_actor, config.lstm_units if config.use_lstm else 0)
    self._queue_signature = trajectories.item_signature(step_specs, config.unroll_length)
    self._server = reverb.Server(
        tables=[
            trajectory_queue.queue_table(config, self._queue_signature),
            weights_lib.weights_table(self.network.variables),
        ],
        port=port or None)
    self.port = self._server.port
    self._client = reverb.Client(f'localhost:{self.port}')
    self._publisher = weights_lib.WeightPublisher(self._client, self.network.variables)
    self._publisher.publish(self.step)
    if dataset_fn is None:
      address = f'localhost:{self.port}'

      def dataset_fn(context):
        return trajectory_queue.make_dataset(address, config, context.num_replicas_in_sync)

    # Each replica reads its own share of the batch: batches are time-major,
    # so splitting a global batch along its first dimension would split time.
    self._dataset = self._strategy.distribute_datasets_from_function(dataset_fn)
    self._iterator = iter(self._dataset)
    self._summary_writer = tf.summary.create_file_writer(os.path.join(logdir, 'train'))
    self._episode_returns = collections.deque(maxlen=100)
    self._episode_lengths = collections.deque(maxlen=100)
    self._episodes = 0
    self._stop_requested = False

  @property
  def step(self) -> int:
    """Learner steps taken: optimiser updates plus skipped updates."""
    return self._step

  # --- Compiled parts ------------------------------------------------------------
  def _replica_compute(self, batch):
    config = self._config
    inputs = networks.NetworkInput(
        observation=batch['observation'], first=batch['first'],
        prev_action=batch['prev_action'], prev_reward=batch['reward'])
    core_state = batch.get('core_state', ())
    with tf.GradientTape() as tape:
      outputs, _ = self.network.unroll(inputs, core_state)
      loss_in = trajectories.loss_inputs(batch, config.discount)
      loss = losses.impala_loss(
          self._dist,
          target_policy_params=outputs.policy_params[:-1],
          behaviour_policy_params=loss_in.behaviour_policy_params,
          actions=loss_in.actions,
          rewards=loss_in.rewards,
          discounts=loss_in.discounts,
          values=outputs.baseline[:-1],
          bootstrap_value=outputs.baseline[-1],
          mask=loss_in.mask,
          correction=config.correction,
          reward_clipping=config.reward_clipping,
          baseline_cost=config.baseline_cost,
          entropy_cost=config.entropy_cost,
          clip_rho_threshold=config.threshold('clip_rho_threshold'),
          clip_pg_rho_threshold=config.threshold('clip_pg_rho_threshold'),
          clip_c_threshold=config.threshold('clip_c_threshold'))
    variables = self.network.trainable_variables
    grads = tape.gradient(loss.total_loss, variables)
    ctx = tf.distribute.get_replica_context()
    grads = ctx.all_reduce(tf.distribute.ReduceOp.SUM, grads)
    grads, grad_norm = tf.clip_by_global_norm(grads, config.grad_clip_norm)
    mask = loss_in.mask
    done, ep_return, ep_length = trajectories.finished_episodes(batch)
    obs_finite = tf.reduce_all(tf.math.is_finite(tf.cast(batch['observation'], tf.float32)))
    finite = (tf.math.is_finite(loss.total_loss) & tf.math.is_finite(grad_norm)
              & tf.reduce_all(tf.math.is_finite(batch['reward'])) & obs_finite)
    # Losses are sums over this replica's data: SUM-reduced they are the
    # global-batch sums. Counts are summed too, so means are global.
    sums = {
        'loss/total': loss.total_loss,
        'loss/policy_gradient': loss.pg_loss,
        'loss/baseline': loss.baseline_loss,
        'loss/entropy': loss.entropy_loss,
        'entropy_sum': tf.reduce_sum(loss.entropy * mask),
        'transitions': tf.reduce_sum(mask),
        'weights_version_sum': tf.cast(tf.reduce_sum(batch['weights_version'][0]), tf.float32),
        'trajectories': tf.cast(tf.shape(mask)[1], tf.float32),
        'nonfinite': 1.0 - tf.cast(finite, tf.float32),
    }
    sums = ctx.all_reduce(tf.distribute.ReduceOp.SUM, sums)
    sums['gradient_norm'] = grad_norm
    sums['learning_rate'] = tf.cast(self._lr_schedule(self.optimizer.iterations), tf.float32)
    stats = tf.stack([tf.cast(sums[name], tf.float32) for name in _STATS])
    flat_grads = tf.concat([tf.reshape(g, [-1]) for g in grads], 0)
    episodes = tf.stack([tf.cast(done, tf.float32), ep_return, tf.cast(ep_length, tf.float32)])
    return flat_grads, stats, episodes

  @tf.function
  def _compute(self, iterator):
    """(flat gradients, statistics, episodes [3, T, B]) per replica."""
    batch = next(iterator)
    outputs = self._strategy.run(self._replica_compute, args=(batch,))
    self.env_frames.assign_add(self._config.frames_per_learner_step)
    return outputs

  @tf.function
  def _apply(self, flat_grads):
    def apply(flat):
      grads = [tf.reshape(g, shape) for g, shape in
               zip(tf.split(flat, self._grad_sizes), self._grad_shapes)]
      self.optimizer.apply_gradients(zip(grads, self.network.trainable_variables),
                                     skip_gradients_aggregation=True)
    self._strategy.run(apply, args=(flat_grads,))

  # --- Python step and loop ----------------------------------------------------------
  def train_step(self):
    """One learner step; returns a dict of metrics (python floats), or None
    if no data arrived within the input pipeline's wait (see
    trajectory_queue.WAIT_FOR_DATA_MS)."""
    step_before = self._step
    try:
      flat_grads, stats, episodes = self._compute(self._iterator)
    except (tf.errors.OutOfRangeError, tf.errors.DeadlineExceededError):
      self._iterator = iter(self._dataset)
      return None
    local = self._strategy.experimental_local_results
    # Every replica holds the same all-reduced statistics.
    stats = dict(zip(_STATS, local(stats)[0].numpy().tolist()))
    self._frames += self._config.frames_per_learner_step
    if stats['nonfinite'] == 0:
      self._apply(flat_grads)
    else:
      self.skipped_updates.assign_add(1)
      self._skipped += 1
      logging.warning('learner: skipped update %d: non-finite loss, gradient, reward or '
                      'observation (%d skipped so far).', step_before, self._skipped)
    self._step += 1
    for replica_episodes in local(episodes):
      done, ret, length = replica_episodes.numpy()
      done = done > 0
      self._episode_returns.extend(ret[done].tolist())
      self._episode_lengths.extend(length[done].astype(int).tolist())
      self._episodes += int(done.sum())
    transitions = max(stats['transitions'], 1.0)
    return {
        'loss/total': stats['loss/total'],
        'loss/policy_gradient': stats['loss/policy_gradient'],
        'loss/baseline': stats['loss/baseline'],
        'loss/entropy': stats['loss/entropy'],
        'entropy': stats['entropy_sum'] / transitions,
        'gradient_norm': stats['gradient_norm'],
        'learning_rate': stats['learning_rate'],
        'policy_lag': step_before - stats['weights_version_sum'] / stats['trajectories'],
        'skipped_updates': float(self._skipped),
    }

  def request_stop(self, *unused_args):
    self._stop_requested = True

  def run(self, max_steps=None):
    """Trains until total_environment_frames, `max_steps` or a stop request
    (SIGTERM/SIGINT); always leaves a checkpoint. Returns the final status."""
    previous_handlers = {}
    for sig in (signal.SIGTERM, signal.SIGINT):
      try:
        previous_handlers[sig] = signal.signal(sig, self.request_stop)
      except ValueError:  # not the main thread
        pass
    try:
      return self._run(max_steps)
    finally:
      for sig, handler in previous_handlers.items():
        signal.signal(sig, handler)

  def _run(self, max_steps):
    config = self._config
    start = time.time()
    frames_at_start = self._frames
    last_log = last_ckpt = last_export = last_wait_log = start
    frames_at_log, steps_at_log = frames_at_start, self.step
    metrics, steps_run = {}, 0
    status = self._status(start, frames_at_start, 0.0, 0.0, {})
    logging.info('learner: serving on port %d; step %d, %d frames.', self.port, self.step,
                 frames_at_start)
    while (not self._stop_requested
           and self._frames < config.total_environment_frames
           and (max_steps is None or steps_run < max_steps)):
      step_metrics = self.train_step()
      if step_metrics is None:
        # Its own timer: resetting last_log here would shrink the window the
        # next frames/s reading divides by, but not the frames it counts.
        if time.time() - last_wait_log >= 30:
          logging.info('learner: waiting for actors to write unrolls (queue empty).')
          last_wait_log = time.time()
        continue
      metrics = step_metrics
      steps_run += 1
      step = self.step
      if step % config.publish_every_steps == 0:
        self._publisher.publish(step)
      if step % config.summary_every_steps == 0:
        self._write_summaries(step, metrics, time.time() - start, frames_at_start)
      now = time.time()
      if now - last_log >= config.log_every_seconds:
        frames = self._frames
        fps = (frames - frames_at_log) / (now - last_log)
        sps = (step - steps_at_log) / (now - last_log)
        status = self._status(start, frames_at_start, fps, sps, metrics)
        _write_json_atomically(os.path.join(self._logdir, STATUS_FILE), status)
        logging.info('learner: step %d, frames %d (%.0f/s), return %s, lag %.1f, loss %.3g',
                     step, frames, fps, status['episode_return_mean'], metrics['policy_lag'],
                     metrics['loss/total'])
        last_log, frames_at_log, steps_at_log = now, frames, step
      if now - last_ckpt >= config.checkpoint_every_seconds:
        self._checkpoints.save(self.step)
        last_ckpt = now
      if now - last_export >= config.export_every_seconds:
        self.export()
        last_export = now
    self._checkpoints.save(self.step)
    if steps_run:
      self.export()
      self._publisher.publish(self.step)
    status = self._status(start, frames_at_start, status['frames_per_second'],
                          status['learner_steps_per_second'], metrics, done=True)
    _write_json_atomically(os.path.join(self._logdir, STATUS_FILE), status)
    return status

  def export(self):
    """Writes greedy and sampling SavedModels to <logdir>/saved_model."""
    out = os.path.join(self._logdir, 'saved_model')
    export.export_policy(self.network, self._env_spec, self._config, out, step=self.step)
    logging.info('learner: exported the policy at step %d to %s.', self.step, out)

  def _status(self, start, frames_at_start, fps, sps, metrics, done=False):
    frames = self._frames
    wall = time.time() - start
    returns = list(self._episode_returns)
    return {
        'env_frames': frames,
        'learner_steps': self.step,
        'wall_seconds': wall,
        'frames_this_run': frames - frames_at_start,
        'frames_per_second': fps,
        'mean_frames_per_second': (frames - frames_at_start) / wall if wall > 0 else 0.0,
        'learner_steps_per_second': sps,
        # null (not NaN, which JSON lacks) until an episode has finished.
        'episode_return_mean': float(np.mean(returns)) if returns else None,
        'episode_length_mean': (float(np.mean(self._episode_lengths))
                                if self._episode_lengths else None),
        'episodes': self._episodes,
        'policy_lag': metrics.get('policy_lag'),
        'skipped_updates': self._skipped,
        'queue_size': trajectory_queue.queue_size(self._client),
        'done': done,
        'time': time.time(),
    }

  def _write_summaries(self, step, metrics, wall, frames_at_start):
    frames = self._frames
    with self._summary_writer.as_default(step=frames):
      for name, value in metrics.items():
        tf.summary.scalar(name, value)
      tf.summary.scalar('learner_steps', step)
      tf.summary.scalar('frames_per_second', (frames - frames_at_start) / max(wall, 1e-6))
      tf.summary.scalar('queue_fill', trajectory_queue.queue_size(self._client)
                        / self._config.queue_capacity)
      if self._episode_returns:
        tf.summary.scalar('episode_return', float(np.mean(self._episode_returns)))
        tf.summary.scalar('episode_length', float(np.mean(self._episode_lengths)))

  def close(self):
    self._publisher.close()
    self._server.stop()


def run_learner(config, logdir: str, port: int = 0, max_steps=None):
  """Entry point of the learner binary: trains, checkpoints, returns status."""
  config.validate()
  if config.learner_intra_op_threads:
    tf.config.threading.set_intra_op_parallelism_threads(config.learner_intra_op_threads)
  learner = Learner(config, logdir, port)
  try:
    return learner.run(max_steps=max_steps)
  finally:
    learner.close()
