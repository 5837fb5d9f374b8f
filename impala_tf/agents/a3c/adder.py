"""What an A3C actor writes: each unroll becomes a gradient, computed in the
actor with the weights that acted, and only the gradient (with the unroll's
loss statistics and episode columns) goes to the learner."""

import time

import numpy as np

from impala_tf import stepping
from impala_tf import trajectories
from impala_tf.agents import interface
from impala_tf.agents.a3c import learning


class GradientAdder(interface.Adder):
  """One gradient item per unroll of `unroll_length` steps."""

  def __init__(self, config, actor):
    self._actor = actor
    self._use_lstm = config.use_lstm
    self.steps_per_block = config.unroll_length
    self._writer = None
    self._parts, self._actions = [], []

  def open(self, client, part):
    self._writer = client.trajectory_writer(num_keep_alive_refs=1)
    self._parts, self._actions = [stepping.copy_part(part)], []

  def add(self, action, part):
    self._actions.append(stepping.copy_part(action))
    self._parts.append(stepping.copy_part(part))

  def end_block(self, stop) -> bool:
    actor = self._actor
    unroll = stepping.stack_unroll(self._parts, self._actions, self._use_lstm)
    self._parts, self._actions = [self._parts[-1]], []
    t0 = time.perf_counter()
    gradient, sums = actor.policy.gradients(unroll)
    actor.timers['policy'] += time.perf_counter() - t0
    t0 = time.perf_counter()
    trajectories.insert_step_item(self._writer, learning.GRADIENT_TABLE, 1.0, {
        'gradient': gradient, 'sums': sums,
        'weights_version': np.int64(actor.weights_version),
        **{name: unroll[name][1:] for name in trajectories.EPISODE_COLUMNS}})
    flushed = actor.flush(self._writer, 0, stop)
    actor.timers['reverb'] += time.perf_counter() - t0
    return flushed

  def close(self):
    if self._writer is not None:
      self._writer.close()
      self._writer = None
