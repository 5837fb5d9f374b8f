"""The actor: steps a batch of environments and sends unrolls to the learner.

Each unroll starts by fetching the newest published weights, so every action
of an item comes from one weights version (recorded, for the learner's
policy-lag figure). The acting step is a fixed graph run by a Session
(`graph_policy`); per step the Python side only moves numpy arrays between
the env, the policy and the Reverb writer.

When the learner is unreachable (not started yet, restarted, or gone) the
actor retries with exponential backoff and says what it is waiting for;
once reconnected it starts a fresh unroll.
"""

import collections
import threading
import time

from absl import logging
import numpy as np
import reverb
import tensorflow as tf

from impala_tf import a3c
from impala_tf import agents
from impala_tf import environments
from impala_tf import graph_policy
from impala_tf import networks
from impala_tf import run_config
from impala_tf import trajectories
from impala_tf import weights as weights_lib
from impala_tf.trajectory_queue import TRAJECTORY_TABLE

# Errors that mean "the learner's server is not (or no longer) there".
CONNECTION_ERRORS = (RuntimeError, ConnectionError, tf.errors.OpError,
                     reverb.errors.ReverbError)


class LearnerGone(RuntimeError):
  """No learner answered for `actor_learner_timeout_seconds`."""


def _copy(part):
  """A copy of a step's numpy columns: the environments reuse their buffers."""
  return tf.nest.map_structure(np.array, part)


class Actor:
  """One actor process's work: `envs_per_actor` envs, one Reverb writer."""

  def __init__(self, config, server_address: str, task: int = 0, task_id=None):
    """
    Args:
      config: the ImpalaConfig.
      server_address: HOST:PORT of the learner.
      task: this actor's index (it seeds the environments and the actions).
      task_id: which of the config's tasks the environments run (multi-task);
        by default the actors are spread over the tasks: task % num_tasks.
    """
    config.validate()
    self._config = config
    self._address = server_address
    self._task = task
    self.task_id = task % config.num_tasks if task_id is None else task_id
    if not 0 <= self.task_id < config.num_tasks:
      raise ValueError(f'task_id must be in [0, {config.num_tasks}) for the config\'s '
                       f'{config.num_tasks} task(s), got {task_id}.')
    self._num_envs = config.envs_per_actor
    self._env = environments.make_env(
        config, self._num_envs, seed=environments.environment_seeds(config.seed, task,
                                                                    self._num_envs),
        task=self.task_id)
    spec = self.env_spec = self._env.spec
    self._dist = spec.distribution
    # Chosen once: what this agent acts with and sends.
    self._agent = agents.for_config(config)
    # The acting step: numpy in, numpy out, run by a Session (no per-step
    # EagerTensors, which leak under Python 3.11; see graph_policy).
    self.policy = graph_policy.GraphPolicy(
        config, spec, self._num_envs, seed=(config.seed, task),
        threads=config.actor_intra_op_threads, gradients=self._agent.gradients,
        network=self._agent.acting_network(spec),
        distribution=self._agent.acting_distribution(spec, task), task_id=self.task_id)
    self.env_frames = 0
    self.unrolls = 0
    self.finished = False   # the learner finished the run: this actor is done
    # Recent finished episodes only: a long run must not grow without bound.
    self.episode_returns = collections.deque(maxlen=1000)
    self.weights_version = -1
    # Seconds spent per phase, for the log line: where an actor's time goes.
    self.timers = {'env': 0.0, 'policy': 0.0, 'reverb': 0.0, 'weights': 0.0}
    self._last_log, self._frames_at_log = time.time(), 0

  # --- Environment bookkeeping ------------------------------------------------
  def _reset_envs(self):
    e = self._num_envs
    action_shape = (e, *self._dist.action_shape)
    action_dtype = self._dist.action_dtype.as_numpy_dtype
    self._obs = self._env.reset()
    self._first = np.ones(e, bool)
    self._reward = np.zeros(e, np.float32)
    self._terminal = np.zeros(e, bool)
    self._last = np.zeros(e, bool)
    self._prev_action = np.zeros(action_shape, action_dtype)
    self._episode_return = np.zeros(e, np.float32)
    self._episode_length = np.zeros(e, np.int32)
    self._core_state = self.policy.initial_state()
    self._task_column = np.full(e, self.task_id, np.int32)
    self._counter = 0

  def observation_part(self):
    part = {
        'observation': self._obs,
        'first': self._first,
        'reward': self._reward,
        'terminal': self._terminal,
        'last': self._last,
        'prev_action': self._prev_action,
        'episode_return': self._episode_return,
        'episode_length': self._episode_length,
        'task': self._task_column,
    }
    if self._config.use_lstm:
      part['core_state'] = self._core_state
    return part

  def act_and_step(self, record):
    """Acts on the current observation, records the action part (`record`
    takes its dict), steps the environments."""
    t0 = time.perf_counter()
    inputs = networks.NetworkInput(self._obs, self._first, self._prev_action, self._reward)
    action, params, self._core_state = self.policy.step(inputs, self._core_state,
                                                        self._counter)
    self._counter += 1
    t1 = time.perf_counter()
    record({
        'action': action,
        'policy_params': params,
        'weights_version': np.full(self._num_envs, self.weights_version, np.int64),
    })
    t2 = time.perf_counter()
    obs, reward, terminated, truncated = self._env.step(action)
    t3 = time.perf_counter()
    self.timers['policy'] += t1 - t0
    self.timers['reverb'] += t2 - t1
    self.timers['env'] += t3 - t2
    self.env_frames += self._num_envs * self._config.action_repeat

    # Environments whose previous observation ended an episode just ran the
    # reset step: `obs` starts a new episode and `reward` is 0.
    reset = self._last
    live = ~reset
    if not np.all(np.isfinite(reward)):
      # Sent on as they are: the learner skips (and counts) any update whose
      # data or loss is not finite, so one bad env step costs one batch.
      bad = np.flatnonzero(~np.isfinite(reward))
      logging.warning('actor %d: environment %r returned non-finite rewards %s in envs %s.',
                      self._task, self._config.env_id, reward[bad], bad.tolist())
    self._obs = obs
    self._first = reset.copy()
    self._reward = np.where(live, reward, 0.0).astype(np.float32)
    # A lost life (episodic_life) is terminal for learning; the episode,
    # its return and the environment go on.
    self._terminal = live & (terminated | self._env.life_lost)
    self._last = live & (terminated | truncated)
    self._prev_action = np.where(
        live.reshape((-1,) + (1,) * (action.ndim - 1)), action,
        np.zeros_like(action))
    self._episode_return = np.where(live, self._episode_return + self._reward, 0.0).astype(
        np.float32)
    self._episode_length = np.where(live, self._episode_length + 1, 0).astype(np.int32)
    for i in np.flatnonzero(self._last):
      self.episode_returns.append(float(self._episode_return[i]))

  # --- Main loop ------------------------------------------------------------------
  def _connect(self, stop: threading.Event):
    """Returns a client once the learner answers, retrying with backoff;
    raises LearnerGone after `actor_learner_timeout_seconds` without one."""
    delay, waited = 0.5, 0.0
    while not stop.is_set():
      if waited >= self._config.actor_learner_timeout_seconds:
        raise LearnerGone(
            f'no learner at {self._address} for {waited:.0f}s '
            f'(actor_learner_timeout_seconds={self._config.actor_learner_timeout_seconds:g}); '
            'giving up.')
      client = reverb.Client(self._address)
      try:
        client.server_info(timeout=5)
        if waited:
          logging.info('actor %d: learner at %s is reachable.', self._task, self._address)
        # Not a connection error: a mismatch ends the actor (ConfigMismatch).
        run_config.check(client, self._config)
        return client
      except CONNECTION_ERRORS as e:
        logging.warning('actor %d: waiting for the learner at %s (%.0fs so far, retry in '
                        '%.1fs): %s', self._task, self._address, waited, delay,
                        str(e).splitlines()[0][:200])
        stop.wait(delay)
        waited += delay
        delay = min(delay * 2, 10.0)
    return None

  def run(self, max_unrolls=None, stop: threading.Event = None):
    """Acts until `stop` is set or `max_unrolls` unrolls have been written."""
    stop = stop or threading.Event()
    self._reset_envs()
    while not stop.is_set() and (max_unrolls is None or self.unrolls < max_unrolls):
      if self.finished:
        logging.info('actor %d: the learner has finished the run; exiting.', self._task)
        break
      client = self._connect(stop)
      if client is None:
        break
      try:
        self._client = client
        self._agent.send(self, client, max_unrolls, stop)
      except CONNECTION_ERRORS as e:
        logging.warning('actor %d: lost the learner at %s: %s', self._task, self._address,
                        str(e).splitlines()[0][:200])
        # The env keeps its episodes; the next unroll starts afresh.
        stop.wait(1.0)
    self.close()

  def close(self):
    self._env.close()
    self.policy.close()

  def fetch_weights(self, subscriber) -> bool:
    """Loads the newest published weights, if new; False once the learner
    has finished the run (this actor is then done)."""
    t0 = time.perf_counter()
    self.weights_version = subscriber.fetch()
    self.timers['weights'] += time.perf_counter() - t0
    if subscriber.finished:
      self.finished = True
    return not self.finished

  def log_progress(self):
    """Logs frames, unrolls and where the time went, every log_every_seconds."""
    now = time.time()
    if now - self._last_log < self._config.log_every_seconds:
      return
    recent = list(self.episode_returns)[-100:]
    total = sum(self.timers.values()) or 1.0
    shares = ' '.join(f'{k} {100 * v / total:.0f}%' for k, v in self.timers.items())
    logging.info('actor %d: frames %d (%.0f/s), unrolls %d, weights v%d, return %s; '
                 'time: %s', self._task, self.env_frames,
                 (self.env_frames - self._frames_at_log) / (now - self._last_log),
                 self.unrolls, self.weights_version,
                 f'{np.mean(recent):.2f}' if recent else 'n/a', shares)
    self._last_log, self._frames_at_log = now, self.env_frames

  def send_unrolls(self, client, max_unrolls, stop):
    """IMPALA's loop: unrolls of T steps into the trajectory queue."""
    config = self._config
    t_len = config.unroll_length
    subscriber = weights_lib.WeightSubscriber(client, self.policy.set_weights)
    subscriber.version = self.weights_version
    # Not a context manager: its exit flushes without a timeout, which would
    # hang on a full queue nobody drains any more.
    writer = client.trajectory_writer(num_keep_alive_refs=t_len + 1)
    try:
      writer.append(self.observation_part(), partial_step=True)
      while not stop.is_set() and (max_unrolls is None or self.unrolls < max_unrolls):
        if not self.fetch_weights(subscriber):
          break
        step_at_start = subscriber.step
        for _ in range(t_len):
          self.act_and_step(writer.append)
          t0 = time.perf_counter()
          writer.append(self.observation_part(), partial_step=True)
          self.timers['reverb'] += time.perf_counter() - t0
        t0 = time.perf_counter()
        columns = trajectories.item_columns(writer.history, t_len)
        writer.create_item(TRAJECTORY_TABLE, priority=1.0, trajectory=columns)
        self.unrolls += 1
        # Backpressure: the next unroll starts only once this one is in the
        # queue. Without it the writer streams items ahead while the
        # server's rate limiter holds them, and a full queue would not slow
        # the actor down. Waiting here rather than after the next unroll
        # (one item in flight) keeps the policy lag down when the learner is
        # the bottleneck: the next unroll acts with the weights published
        # once the queue had room, not with weights fetched a whole unroll
        # earlier. With room in the queue the wait is one round trip. It is
        # counted as 'reverb' time: a full queue shows up there.
        flushed = self.flush(writer, 0, stop)
        self.timers['reverb'] += time.perf_counter() - t0
        if not flushed:
          break
        if config.synchronous:
          # Batched A2C: wait for the update that consumes this unroll (the
          # learner's step, not the weights version: with a controlled
          # policy lag the published weights trail the step).
          self.wait_for_step(subscriber, step_at_start + 1, stop)
          if subscriber.finished:
            self.finished = True
            break
        self.log_progress()
      # Finished (not stopped): deliver the item still in flight.
      self.flush(writer, 0, stop)
    finally:
      writer.close()

  def send_gradients(self, client, max_unrolls, stop):
    """A3C: each unroll becomes a gradient, computed here with the weights
    that acted, and only the gradient goes to the learner (see a3c)."""
    subscriber = weights_lib.WeightSubscriber(client, self.policy.set_weights)
    subscriber.version = self.weights_version
    writer = client.trajectory_writer(num_keep_alive_refs=1)
    try:
      part = _copy(self.observation_part())
      while not stop.is_set() and (max_unrolls is None or self.unrolls < max_unrolls):
        if not self.fetch_weights(subscriber):
          break
        unroll, part = self.collect_unroll(part)
        t0 = time.perf_counter()
        gradient, sums = self.policy.gradients(unroll)
        self.timers['policy'] += time.perf_counter() - t0
        t0 = time.perf_counter()
        trajectories.insert_step_item(writer, a3c.GRADIENT_TABLE, 1.0, {
            'gradient': gradient, 'sums': sums,
            'weights_version': np.int64(self.weights_version),
            **{name: unroll[name][1:] for name in a3c.EPISODE_COLUMNS}})
        self.unrolls += 1
        flushed = self.flush(writer, 0, stop)
        self.timers['reverb'] += time.perf_counter() - t0
        if not flushed:
          break
      self.flush(writer, 0, stop)
    finally:
      writer.close()

  def collect_unroll(self, first_part):
    """Acts T steps from `first_part` (the observation part acting starts
    from, see `observation_part`), outside any queue.

    Returns (unroll, last part): the unroll as one dict of numpy columns
    shaped like a queue item ([T+1, E, ...], actions [T, E, ...], the core
    state at its start), and the observation part the next unroll starts
    from. Used where the unroll is consumed in this process (A3C's
    gradients, the synchronous-per-step source).
    """
    parts, actions = [first_part], []
    for _ in range(self._config.unroll_length):
      self.act_and_step(lambda part: actions.append(_copy(part)))
      parts.append(_copy(self.observation_part()))
    unroll = {name: np.stack([p[name] for p in parts]) for name in parts[0]
              if name != 'core_state'}
    unroll.update({name: np.stack([a[name] for a in actions]) for name in actions[0]})
    if self._config.use_lstm:
      unroll['core_state'] = first_part['core_state']
    return unroll, parts[-1]

  def flush(self, writer, pending, stop) -> bool:
    """Waits until at most `pending` items are unconfirmed; False if stopped.

    A full queue legitimately blocks for a long time, so timeouts alone mean
    nothing; every few seconds the server is probed, and if it is gone a
    ConnectionError sends the actor back to reconnecting.
    """
    waited = 0
    while not stop.is_set():
      try:
        writer.flush(block_until_num_items=pending, timeout_ms=500)
        return True
      except reverb.errors.DeadlineExceededError:
        waited += 1
        if waited % 10 == 0:
          try:
            self._client.server_info(timeout=2)
          except CONNECTION_ERRORS as e:
            raise ConnectionError(f'learner unreachable while sending an unroll: {e}') from e
    return False

  def wait_for_step(self, subscriber, step, stop):
    while not stop.is_set():
      subscriber.fetch()
      if subscriber.step >= step or subscriber.finished:
        return
      time.sleep(0.001)


def run_actor(config, server_address: str, task: int = 0, max_unrolls=None, task_id=None):
  """Entry point of the actor binary; SIGTERM/SIGINT stop it cleanly."""
  import signal  # pylint: disable=g-import-not-at-top
  config.validate()
  stop = threading.Event()
  for sig in (signal.SIGTERM, signal.SIGINT):
    signal.signal(sig, lambda *_: stop.set())
  actor = Actor(config, server_address, task, task_id)
  logging.info('actor %d: task %s (%d of %d).', task, config.task_names[actor.task_id],
               actor.task_id, config.num_tasks)
  actor.run(max_unrolls=max_unrolls, stop=stop)
  logging.info('actor %d: stopped after %d unrolls, %d frames, weights version %d.', task,
               actor.unrolls, actor.env_frames, actor.weights_version)
  return actor
