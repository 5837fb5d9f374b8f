"""The actor: steps a batch of environments and writes to the learner's Reverb
server what its agent's adder makes of them.

Each block of steps (an IMPALA unroll, an R2D2 sequence period) starts by
fetching the newest published weights, so every action of a block comes
from one weights version (recorded, for the learner's policy-lag figure).
The environments and the acting step are a `stepping.Stepper`; what is
written, and how, is the agent's `Adder` (`impala_tf.agents.interface`).

When the learner is unreachable (not started yet, restarted, or gone) the
actor retries with exponential backoff and says what it is waiting for;
once reconnected it starts a fresh block.
"""

import threading
import time

from absl import logging
import numpy as np
import reverb
import tensorflow as tf

from impala_tf import run_config
from impala_tf import run_files
from impala_tf import stepping
from impala_tf import weights as weights_lib

# Errors that mean "the learner's server is not (or no longer) there".
CONNECTION_ERRORS = (RuntimeError, ConnectionError, tf.errors.OpError,
                     reverb.errors.ReverbError)


class LearnerGone(RuntimeError):
  """No learner answered for `actor_learner_timeout_seconds`."""


class Actor(stepping.Stepper):
  """One actor process's work: `envs_per_actor` envs and its agent's adder."""

  def __init__(self, config, server_address: str, task: int = 0, task_id=None, agent=None,
               logdir=None):
    """
    Args:
      config: the ImpalaConfig.
      server_address: HOST:PORT of the learner.
      task: this actor's index (it seeds the environments and the actions).
      task_id: which of the config's tasks the environments run (multi-task);
        by default the actors are spread over the tasks: task % num_tasks.
      agent: the run's `interface.Agent` (default: the one the config names).
      logdir: the run's directory, or None. While the learner cannot be
        reached the actor reads there whether the run has finished (an
        actor started or restarted after the end), and if so it is done.
    """
    config.validate()
    if agent is None:
      from impala_tf.agents import registry  # pylint: disable=g-import-not-at-top
      agent = registry.make(config)
    self._agent = agent
    self._address = server_address
    self._logdir = logdir
    task_id = task % config.num_tasks if task_id is None else task_id
    # What this agent acts with: its network and distribution.
    super().__init__(config, task, task_id, agent.acting_network,
                     lambda spec: agent.acting_distribution(spec, task),
                     gradients=agent.gradients)
    self.unrolls = 0
    self.finished = False   # the learner finished the run: this actor is done
    self._last_log, self._frames_at_log = time.time(), 0
    self._adder = agent.make_adder(self)

  # --- Main loop ------------------------------------------------------------------
  def _connect(self, stop: threading.Event):
    """Returns a client once the learner answers, retrying with backoff;
    raises LearnerGone after `actor_learner_timeout_seconds` without one."""
    delay, waited = 0.5, 0.0
    while not stop.is_set():
      if self._logdir and run_files.run_finished(self._logdir):
        logging.info('actor %d: no learner at %s, and the run in %s has finished.',
                     self._task, self._address, self._logdir)
        self.finished = True
        return None
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
    """Acts until `stop` is set or `max_unrolls` blocks have been written."""
    stop = stop or threading.Event()
    self.reset_envs()
    while not stop.is_set() and (max_unrolls is None or self.unrolls < max_unrolls):
      if self.finished:
        logging.info('actor %d: the learner has finished the run; exiting.', self._task)
        break
      client = self._connect(stop)
      if client is None:
        break
      try:
        self._client = client
        self._send(client, max_unrolls, stop)
      except CONNECTION_ERRORS as e:
        logging.warning('actor %d: lost the learner at %s: %s', self._task, self._address,
                        str(e).splitlines()[0][:200])
        # The env keeps its episodes; the next unroll starts afresh.
        stop.wait(1.0)
    self.close()

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

  def _send(self, client, max_unrolls, stop):
    """Blocks of steps through the adder until stopped, finished or
    `max_unrolls` blocks; connection errors propagate (run reconnects)."""
    config = self._config
    adder = self._adder
    subscriber = weights_lib.WeightSubscriber(client, self.policy.set_weights)
    subscriber.version = self.weights_version
    taken = []
    try:
      adder.open(client, self.observation_part())
      while not stop.is_set() and (max_unrolls is None or self.unrolls < max_unrolls):
        if not self.fetch_weights(subscriber):
          break
        step_at_start = subscriber.step
        for _ in range(adder.steps_per_block):
          self.act_and_step(taken.append)
          adder.add(taken.pop(), self.observation_part())
        if not adder.end_block(stop):
          break
        self.unrolls += 1
        if config.synchronous:
          # Batched A2C: wait for the update that consumes this unroll (the
          # learner's step, not the weights version: with a controlled
          # policy lag the published weights trail the step).
          self.wait_for_step(subscriber, step_at_start + 1, stop)
          if subscriber.finished:
            self.finished = True
            break
        self.log_progress()
    finally:
      adder.close()

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


def run_actor(config, server_address: str, task: int = 0, max_unrolls=None, task_id=None,
              logdir=None):
  """Entry point of the actor binary; SIGTERM/SIGINT stop it cleanly. With
  `logdir`, an actor that finds no learner exits cleanly if the run there
  has finished."""
  import signal  # pylint: disable=g-import-not-at-top
  config.validate()
  stop = threading.Event()
  for sig in (signal.SIGTERM, signal.SIGINT):
    signal.signal(sig, lambda *_: stop.set())
  actor = Actor(config, server_address, task, task_id, logdir=logdir)
  logging.info('actor %d: task %s (%d of %d).', task, config.task_names[actor.task_id],
               actor.task_id, config.num_tasks)
  actor.run(max_unrolls=max_unrolls, stop=stop)
  logging.info('actor %d: stopped after %d unrolls, %d frames, weights version %d.', task,
               actor.unrolls, actor.env_frames, actor.weights_version)
  return actor
