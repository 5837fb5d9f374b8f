"""What an actor of an agent trained on unrolls (IMPALA, MERLIN) writes:
unrolls of T steps into the trajectory queue.

Each step goes to the Reverb writer once, as two appends: the observation
part (partial) and then the action the policy took on it. An item spans
T+1 observations, overlapping the next unroll by one step so every step is
bootstrapped (`trajectories.item_columns`).
"""

import time

from impala_tf import trajectories
from impala_tf.agents import interface
from impala_tf.trajectory_queue import TRAJECTORY_TABLE


class UnrollAdder(interface.Adder):
  """One item per unroll of `unroll_length` steps of every environment."""

  def __init__(self, config, actor):
    self._actor = actor
    self.steps_per_block = config.unroll_length
    self._writer = None

  def open(self, client, part):
    # Not a context manager: its exit flushes without a timeout, which would
    # hang on a full queue nobody drains any more.
    self._writer = client.trajectory_writer(num_keep_alive_refs=self.steps_per_block + 1)
    self._writer.append(part, partial_step=True)

  def add(self, action, part):
    t0 = time.perf_counter()
    self._writer.append(action)
    self._writer.append(part, partial_step=True)
    self._actor.timers['reverb'] += time.perf_counter() - t0

  def end_block(self, stop) -> bool:
    t0 = time.perf_counter()
    columns = trajectories.item_columns(self._writer.history, self.steps_per_block)
    self._writer.create_item(TRAJECTORY_TABLE, priority=1.0, trajectory=columns)
    # Backpressure: the next unroll starts only once this one is in the
    # queue. Without it the writer streams items ahead while the server's
    # rate limiter holds them, and a full queue would not slow the actor
    # down. Waiting here rather than after the next unroll (one item in
    # flight) keeps the policy lag down when the learner is the bottleneck:
    # the next unroll acts with the weights published once the queue had
    # room, not with weights fetched a whole unroll earlier. With room in
    # the queue the wait is one round trip. It counts as 'reverb' time: a
    # full queue shows up there.
    flushed = self._actor.flush(self._writer, 0, stop)
    self._actor.timers['reverb'] += time.perf_counter() - t0
    return flushed

  def close(self):
    if self._writer is not None:
      self._writer.close()
      self._writer = None
