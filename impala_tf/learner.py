"""The learner: hosts the Reverb server, trains with V-trace, publishes weights.

The compiled part of a learner step (losses, gradients, the optimiser
update, the skip of non-finite updates, diagnostics) is `train_step`. Here
is the Python loop around it: it asks for a batch only when the queue holds
one, publishes weights, and writes summaries, checkpoints, exports and the
status file. Counters are mirrored in Python ints: reading a variable
creates an EagerTensor (they leak a little under Python 3.11, see
train_step), and these are read every step.
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

from impala_tf import atari_scores
from impala_tf import bsuite_envs
from impala_tf import checkpoints
from impala_tf import config as config_lib
from impala_tf import cpu_kernels
from impala_tf import environments
from impala_tf import export
from impala_tf import run_config
from impala_tf import run_files
from impala_tf import trajectory_queue
from impala_tf import weights as weights_lib
from impala_tf.agents import interface
from impala_tf.agents import registry
from impala_tf.choices import STATUS_FILE

# Once the run is finished, how long the learner keeps serving so that its
# actors learn it and exit by themselves.
RUN_END_GRACE_SECONDS = 30.0


def make_strategy(name: str) -> tf.distribute.Strategy:
  """The tf.distribute strategy the config names."""
  if name == 'default':
    return tf.distribute.get_strategy()
  if name == 'mirrored':
    devices = [d.name for d in tf.config.list_logical_devices('GPU')] or [
        d.name for d in tf.config.list_logical_devices('CPU')]
    return tf.distribute.MirroredStrategy(devices)
  if name == 'tpu':
    resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu_address(os.environ))
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
    return tf.distribute.TPUStrategy(resolver)
  raise ValueError(f"strategy must be 'default', 'mirrored' or 'tpu', got {name!r}.")


def tpu_address(environ) -> str:
  """What TPUClusterResolver is given: the TPU named by TPU_NAME (a TPU node
  reached over the network, or a launcher that names it), else 'local', the
  documented form on a TPU VM (GKE's TPU node pools and Vertex AI's TPU
  machines are TPU VMs). An empty name makes the resolver look for TPU_NAME
  and fail without it."""
  return environ.get('TPU_NAME') or 'local'


class NoData(RuntimeError):
  """No data reached the learner for `learner_data_timeout_seconds`."""


def _write_json_atomically(path, payload):
  run_files.write_atomically(path, json.dumps(payload))


class Learner:
  """Trains one network from the trajectory queue it hosts."""

  def __init__(self, config, logdir: str, port: int = 0, strategy=None, dataset_fn=None,
               agent=None):
    """
    Args:
      config: the ImpalaConfig.
      logdir: checkpoints, summaries and status go here; resumed if present.
      port: the Reverb server's port (0: any free one, see `self.port`).
      strategy: a tf.distribute strategy (default: the one config names).
      dataset_fn: `fn(tf.distribute.InputContext) -> tf.data.Dataset` of one
        replica's time-major batches, to train on instead of the trajectory
        queue (benchmarks and strategy-equivalence tests).
      agent: the run's `interface.Agent` (default: the one config names).
    """
    self._config = config.validate()
    self._logdir = logdir
    tf.io.gfile.makedirs(logdir)
    # The run records what it runs (export and evaluation read it back), also
    # when no local launcher wrote it, as on a cluster.
    run_files.write_atomically(os.path.join(logdir, 'config.py'),
                               config_lib.config_file_text(self._config))
    spec = environments.env_spec(config)
    self._env_spec = spec
    self._strategy = strategy or make_strategy(config.strategy)
    if config.jit_compile and not (tf.config.list_logical_devices('GPU')
                                   or tf.config.list_logical_devices('TPU')):
      logging.warning('jit_compile=true on a CPU-only learner: TF 2.15\'s XLA on CPU ran the '
                      'Pong preset\'s step about 75 times slower than without it '
                      '(docs/cloud.md). It is meant for accelerators.')
    # The initial weights (and any other draw of TensorFlow's, numpy's or
    # Python's global generators in this process) come from the run's seed,
    # not from the clock: a run started twice with one seed starts alike.
    tf.keras.utils.set_random_seed(config.seed)
    # Chosen once: what this agent's step, tables and input are.
    self._agent = agent or registry.make(config)
    with self._strategy.scope():
      self.train_step_fn = self._agent.make_step(spec, self._strategy)
    step_fn = self.train_step_fn
    self.network = step_fn.network
    self.optimizer = step_fn.optimizer
    self.hyperparameters = step_fn.hyperparameters
    self.env_frames = step_fn.env_frames
    self.skipped_updates = step_fn.skipped_updates
    self._checkpoints = checkpoints.Checkpointer(
        os.path.join(logdir, 'checkpoints'), config.checkpoints_to_keep,
        **step_fn.checkpointables)
    self._checkpoints.restore_latest()
    self._sync_counters()

    data_tables = self._agent.data_tables(self.train_step_fn, spec)
    self._data_table = self._agent.data_table
    self._server = reverb.Server(
        tables=data_tables + weights_lib.weights_tables(self.network.variables)
        + [run_config.table()],
        port=port or None)
    self.port = self._server.port
    self._client = reverb.Client(f'localhost:{self.port}')
    run_config.publish(self._client, config)
    self._publisher = weights_lib.WeightPublisher(self._client, self.network.variables,
                                                  lag=max(config.policy_lag, 0))
    self._publisher.publish(self.step)
    # Where batches come from: the agent's tables on this server (asked for
    # only when the step will not block, see `interface.LearnerInput`), or
    # the given dataset.
    if dataset_fn is None:
      self._input = self._agent.make_input(self, f'localhost:{self.port}', spec)
    else:
      self._input = interface.LearnerInput(dataset_fn)
    dataset_fn = self._input.dataset_fn
    # Each replica reads its own share of the batch: batches are time-major,
    # so splitting a global batch along its first dimension would split time.
    self._dataset = self._strategy.distribute_datasets_from_function(dataset_fn)
    self._iterator = iter(self._dataset)
    self._summary_writer = tf.summary.create_file_writer(os.path.join(logdir, 'train'))
    self._scalar_writers = {}
    self._episode_returns = collections.deque(maxlen=100)
    self._episode_lengths = collections.deque(maxlen=100)
    # Per task (multi-task runs report every task as a single task reports).
    self._task_returns = [collections.deque(maxlen=100) for _ in range(config.num_tasks)]
    self._episodes = 0
    self._stop_requested = False
    self._pbt = None
    # bsuite's CSV log of the episodes, for its analysis (bsuite_envs): the
    # episodes this learner process receives, in order.
    self.bsuite_log = None
    if bsuite_envs.is_bsuite(config.env_id) and bsuite_envs.is_logged(config.env_id):
      self.bsuite_log = bsuite_envs.EpisodeLog(
          config.env_id, os.path.join(logdir, bsuite_envs.LOG_DIRECTORY), overwrite=True)

  @property
  def agent(self):
    """The run's `interface.Agent`."""
    return self._agent

  @property
  def step(self) -> int:
    """Learner steps taken: batches consumed (the weights version)."""
    return self._step

  @property
  def frames(self) -> int:
    """Environment frames consumed."""
    return self._frames

  @property
  def episodes(self) -> int:
    """Episodes finished since this learner process started."""
    return self._episodes

  def episode_return_mean(self):
    """Mean return of the last 100 episodes, or None before any."""
    return float(np.mean(self._episode_returns)) if self._episode_returns else None

  def _sync_counters(self):
    """Python mirrors of the counters, kept in step with the variables."""
    self._skipped = int(self.skipped_updates.numpy())
    self._step = int(self.train_step_fn.learner_steps.numpy())
    self._frames = int(self.env_frames.numpy())

  def restore(self, path: str):
    """Restores a checkpoint of this learner's state written elsewhere (a
    PBT member's published one); raises checkpoints.CheckpointError."""
    self._checkpoints.restore(path)
    self._sync_counters()
    self._publisher.publish(self._step)

  def acting_weights(self):
    """(the weights actors act with now, this learner's step): what a source
    that acts inside the learner (the synchronous-per-step A2C) reads."""
    return self._publisher.read(), self._step

  def attach_pbt(self, member):
    """Makes this learner a PBT population member (`pbt.member.Member`)."""
    self._pbt = member

  # --- Python step and loop ----------------------------------------------------------
  def train_step(self):
    """`steps_per_call` learner steps; returns the last batch's metrics
    (python floats), or None if the queue does not hold a batch yet."""
    if not self._input.ready():
      return None
    step_before = self._step
    try:
      stats, episodes = self.train_step_fn(self._iterator)
    except (tf.errors.OutOfRangeError, tf.errors.DeadlineExceededError):
      self._iterator = iter(self._dataset)
      return None
    stats = stats.numpy()
    local = self._strategy.experimental_local_results
    names = self.train_step_fn.stat_names
    skipped_index = names.index('skipped')
    for k, batch_episodes in enumerate(episodes):
      skipped = int(stats[k, skipped_index])
      if skipped:
        self._skipped += skipped
        logging.warning('learner: skipped %d update(s) or normaliser merge of step %d: '
                        'non-finite loss, gradient, reward or observation (%d skipped so '
                        'far).', skipped,
                        step_before + k, self._skipped)
      for replica_episodes in local(batch_episodes):
        done, ret, length, task, start_version = replica_episodes.numpy()
        done = done > 0
        self._episode_returns.extend(ret[done].tolist())
        self._episode_lengths.extend(length[done].astype(int).tolist())
        for r, k in zip(ret[done].tolist(), task[done].astype(int).tolist()):
          if 0 <= k < len(self._task_returns):
            self._task_returns[k].append(r)
        self._episodes += int(done.sum())
        if self._pbt is not None:
          self._pbt.add_episodes(ret[done].tolist(), task[done].astype(int).tolist(),
                                 start_version[done].astype(int).tolist())
        if self.bsuite_log is not None:
          self.bsuite_log.add_episodes(ret[done].tolist(), length[done].astype(int).tolist())
    k = len(episodes)
    self._step += k
    self._frames += self.train_step_fn.frames_of_call(k)
    metrics = self.train_step_fn.metrics(stats[-1], self._step - 1)
    metrics['optimizer/skipped_updates'] = float(self._skipped)
    return metrics

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
    published_at = summarised_at = self.step
    metrics, steps_run = {}, 0
    last_data, last_size = start, self._queue_size()
    status = self._status(start, frames_at_start, 0.0, 0.0, {})
    logging.info('learner: serving on port %d; step %d, %d frames; %s.', self.port, self.step,
                 frames_at_start, cpu_kernels.status())
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
        timeout = config.learner_data_timeout_seconds
        if timeout and time.time() - last_data >= timeout:
          # Data that is not yet a batch counts too (R2D2's replay filling
          # to its minimum): only a table that stopped changing is starved.
          size = self._queue_size()
          if size != last_size:
            last_data, last_size = time.time(), size
          else:
            self._give_up(start, frames_at_start, metrics, time.time() - last_data)
        continue
      last_data = time.time()
      metrics = step_metrics
      steps_run += config.steps_per_call
      step = self.step
      if self._pbt is not None and self._pbt.after_step():
        published_at = -config.publish_every_steps   # new weights: publish now
      if step - published_at >= config.publish_every_steps:
        self._publisher.publish(step)
        published_at = step
      if step - summarised_at >= config.summary_every_steps:
        self._write_summaries(step, metrics, time.time() - start, frames_at_start)
        summarised_at = step
      now = time.time()
      if now - last_log >= config.log_every_seconds:
        frames = self._frames
        fps = (frames - frames_at_log) / (now - last_log)
        sps = (step - steps_at_log) / (now - last_log)
        status = self._status(start, frames_at_start, fps, sps, metrics)
        _write_json_atomically(os.path.join(self._logdir, STATUS_FILE), status)
        logging.info('learner: step %d, frames %d (%.0f/s), return %s, lag %.1f, loss %.3g',
                     step, frames, fps, status['episode_return_mean'], metrics['policy/lag'],
                     metrics['loss/total'])
        last_log, frames_at_log, steps_at_log = now, frames, step
      if now - last_ckpt >= config.checkpoint_every_seconds:
        self._checkpoints.save(self.step)
        last_ckpt = now
      if now - last_export >= config.export_every_seconds:
        self.export()
        last_export = now
    self._checkpoints.save(self.step)
    if self._pbt is not None:
      self._pbt.finish()
    if steps_run:
      self.export()
    finished = self._frames >= config.total_environment_frames
    if steps_run or finished:
      self._publisher.publish(self.step, finished=finished)
    if finished:
      self._let_actors_see_the_end()
    status = self._status(start, frames_at_start, status['frames_per_second'],
                          status['learner_steps_per_second'], metrics, done=True)
    _write_json_atomically(os.path.join(self._logdir, STATUS_FILE), status)
    return status

  def _give_up(self, start, frames_at_start, metrics, waited):
    """No data for learner_data_timeout_seconds: keeps what was learned
    (a checkpoint), records why in the status file, raises NoData."""
    self._checkpoints.save(self.step)
    if self._pbt is not None:
      self._pbt.finish()
    reason = (f'no data from any actor for {waited:.0f}s (learner_data_timeout_seconds='
              f'{self._config.learner_data_timeout_seconds:g}) at {self._frames} frames; '
              'checkpointed, giving up.')
    status = self._status(start, frames_at_start, 0.0, 0.0, metrics, done=True)
    status['stopped'] = reason
    _write_json_atomically(os.path.join(self._logdir, STATUS_FILE), status)
    raise NoData(reason)

  def _let_actors_see_the_end(self):
    """After publishing that the run is finished: keeps serving until every
    actor has read it (each reads the version table once more, then exits
    0), or RUN_END_GRACE_SECONDS. The data table is emptied meanwhile, so an
    actor blocked on a full queue gets through to read it."""
    actors = self._agent.actors_to_tell()
    table = weights_lib.VERSION_TABLE
    reads = lambda: self._client.server_info()[table].rate_limiter_info.sample_stats.completed
    start_reads = reads()
    deadline = time.time() + RUN_END_GRACE_SECONDS
    while actors and reads() - start_reads < actors and time.time() < deadline:
      self._client.reset(self._data_table)
      time.sleep(0.05)
    logging.info('learner: run finished; %d of %d actors told.',
                 min(reads() - start_reads, actors), actors)

  def export(self):
    """Writes greedy and sampling SavedModels to <logdir>/saved_model."""
    out = os.path.join(self._logdir, 'saved_model')
    export.export_policy(self._agent.exported_network(self.network), self._env_spec,
                         self._config, out, step=self.step)
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
        'episode_return_mean_per_task': self.task_returns(),
        'human_normalized': atari_scores.human_normalized_report(
            self.task_returns(), dict(zip(self._config.task_names, self._config.task_ids))),
        'episode_length_mean': (float(np.mean(self._episode_lengths))
                                if self._episode_lengths else None),
        'episodes': self._episodes,
        'policy_lag': metrics.get('policy/lag'),
        'skipped_updates': self._skipped,
        'queue_size': self._queue_size(),
        # The agent's data table: IMPALA's queue, R2D2's replay.
        'queue_capacity': self._agent.data_capacity(),
        'done': done,
        # The frame budget is reached: actors that cannot reach the learner
        # read this and end the run's work with status 0.
        'finished': frames >= self._config.total_environment_frames,
        'time': time.time(),
    }

  def _queue_size(self) -> int:
    """Items in the agent's data table (0 for an agent without one)."""
    if not self._data_table:
      return 0
    return trajectory_queue.queue_size(self._client, self._data_table)

  def task_returns(self):
    """{task name: mean return of its last 100 episodes, or None}."""
    return {name: float(np.mean(returns)) if returns else None
            for name, returns in zip(self._config.task_names, self._task_returns)}

  def _write_summaries(self, step, metrics, wall, frames_at_start):
    frames = self._frames
    scalars = dict(metrics)
    scalars['learner_steps'] = step
    scalars['frames_per_second'] = (frames - frames_at_start) / max(wall, 1e-6)
    scalars['queue_fill'] = self._queue_size() / self._agent.data_capacity()
    self._write_scalars(scalars, frames)
    if self._episode_returns:
      self._write_scalars({'episode_return': float(np.mean(self._episode_returns)),
                           'episode_length': float(np.mean(self._episode_lengths))}, frames)
    per_task = self.train_step_fn.task_summaries(self._config.task_names)
    if self._config.num_tasks > 1:
      for name, value in self.task_returns().items():
        if value is not None:
          per_task[f'{name}/episode_return'] = value
    if per_task:
      self._write_scalars(per_task, frames)

  def _write_scalars(self, scalars, frames):
    """Writes named scalars at step `frames` through one compiled call per
    set of names: two tensors cross into TensorFlow, not one per scalar."""
    names = tuple(sorted(scalars))
    if names not in self._scalar_writers:
      writer = self._summary_writer

      @tf.function
      def write(values, step):
        with writer.as_default(step=step):
          for i, name in enumerate(names):
            tf.summary.scalar(name, values[i])

      self._scalar_writers[names] = write
    self._scalar_writers[names](np.array([scalars[n] for n in names], np.float32),
                                np.int64(frames))

  def close(self):
    self._input.close()
    self._publisher.close()
    self._server.stop()


def run_learner(config, logdir: str, port: int = 0, max_steps=None, pbt_dir=None,
                pbt_member=None):
  """Entry point of the learner binary: trains, checkpoints, returns status.
  With `pbt_dir`, the learner is member `pbt_member` of that population."""
  config.validate()
  if config.learner_intra_op_threads:
    tf.config.threading.set_intra_op_parallelism_threads(config.learner_intra_op_threads)
  learner = Learner(config, logdir, port)
  if pbt_dir:
    from impala_tf.pbt import member as member_lib  # pylint: disable=g-import-not-at-top
    learner.attach_pbt(member_lib.Member(config, pbt_dir, pbt_member, learner))
  try:
    return learner.run(max_steps=max_steps)
  finally:
    learner.close()
