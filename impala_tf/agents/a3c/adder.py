"""What an A3C actor writes: each unroll becomes a gradient, computed in the
actor with the weights that acted, and only the gradient (with the unroll's
loss statistics and episode columns) goes to the learner."""

import time

import numpy as np
import tensorflow as tf

from impala_tf import trajectories
from impala_tf.agents import interface
from impala_tf.agents.a3c import learning


def _copy(part):
  return tf.nest.map_structure(np.array, part)


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
    self._parts, self._actions = [_copy(part)], []

  def add(self, action, part):
    self._actions.append(_copy(action))
    self._parts.append(_copy(part))

  def _unroll(self):
    """The block as one queue-shaped unroll ([T+1, E, ...], actions [T, E,
    ...], the core state at its start)."""
    parts, actions = self._parts, self._actions
    unroll = {name: np.stack([p[name] for p in parts]) for name in parts[0]
              if name != 'core_state'}
    unroll.update({name: np.stack([a[name] for a in actions]) for name in actions[0]})
    if self._use_lstm:
      unroll['core_state'] = parts[0]['core_state']
    return unroll

  def end_block(self, stop) -> bool:
    actor = self._actor
    unroll = self._unroll()
    self._parts, self._actions = [self._parts[-1]], []
    t0 = time.perf_counter()
    gradient, sums = actor.policy.gradients(unroll)
    actor.timers['policy'] += time.perf_counter() - t0
    t0 = time.perf_counter()
    trajectories.insert_step_item(self._writer, learning.GRADIENT_TABLE, 1.0, {
        'gradient': gradient, 'sums': sums,
        'weights_version': np.int64(actor.weights_version),
        **{name: unroll[name][1:] for name in learning.EPISODE_COLUMNS}})
    flushed = actor.flush(self._writer, 0, stop)
    actor.timers['reverb'] += time.perf_counter() - t0
    return flushed

  def close(self):
    if self._writer is not None:
      self._writer.close()
      self._writer = None
