"""R2D2's learner step: burn-in from the stored state, the loss, the target network.

A batch holds B replayed sequences of `burn_in + length` steps, each with the
recurrent state the actor had before its first step (Section 3 of the paper:
"stored state" with "burn-in"). Both networks first run the burn-in steps
from that state, without gradients, to refresh it; the loss is then computed
on the remaining steps only. The target network is a copy of the online one,
refreshed every `target_period` updates.
"""

import collections

import tensorflow as tf

from impala_tf import networks
from impala_tf.agents.r2d2 import losses

# observation [T, B, ...], first/prev_action/prev_reward/action/reward/
# discount/mask [T, B], start_state: the LSTM state (h, c) [B, UNITS] each.
SequenceBatch = collections.namedtuple(
    'SequenceBatch', ['observation', 'first', 'prev_action', 'prev_reward', 'action',
                      'reward', 'discount', 'mask', 'start_state'])


def _inputs(batch, start, end):
  return networks.NetworkInput(batch.observation[start:end], batch.first[start:end],
                               batch.prev_action[start:end], batch.prev_reward[start:end])


def q_values(network, batch: SequenceBatch, burn_in: int):
  """The network's Q [T − burn_in, B, A] after `burn_in` steps that only
  refresh the stored state (no gradient flows into them)."""
  state = tuple(batch.start_state)
  if burn_in:
    _, state = network.unroll(_inputs(batch, 0, burn_in), state)
    state = tf.nest.map_structure(tf.stop_gradient, state)
  q, _ = network.unroll(_inputs(batch, burn_in, None), state)
  return q


def sequence_loss(online, target, batch: SequenceBatch, burn_in: int, n: int,
                  epsilon: float, eta: float, importance_weights=None, with_q=False,
                  cross_replica_sum=None, reduction: str = 'sum_over_time'):
  """The R2D2 loss of a batch (see `losses.r2d2_loss`, with its
  `cross_replica_sum` and `reduction`), after burn-in; with `with_q`, (that
  loss, the online Q [T − burn_in, B, A])."""
  q_online = q_values(online, batch, burn_in)
  q_target = tf.stop_gradient(q_values(target, batch, burn_in))
  out = losses.r2d2_loss(
      q_online, q_target, batch.action[burn_in:], batch.reward[burn_in:],
      batch.discount[burn_in:], batch.mask[burn_in:], n=n, epsilon=epsilon, eta=eta,
      importance_weights=importance_weights, cross_replica_sum=cross_replica_sum,
      reduction=reduction)
  return (out, q_online) if with_q else out


def trained_mask(batch: SequenceBatch, burn_in: int, n: int):
  """[T − burn_in, B]: the steps after burn-in the loss trains on
  (`losses.trained_mask`)."""
  return losses.trained_mask(batch.mask[burn_in:], batch.discount[burn_in:], n)


class TargetNetwork:
  """Keeps `target` a copy of `online`, refreshed every `period` updates."""

  def __init__(self, online, target, period: int = 2500):
    if period < 1:
      raise ValueError(f'target_period must be at least 1, got {period}.')
    self._online, self._target, self._period = online, target, period
    self.updates = tf.Variable(0, dtype=tf.int64, trainable=False, name='updates')
    self.copy()

  def copy(self):
    for source, dest in zip(self._online.variables, self._target.variables):
      dest.assign(source)

  def after_update(self):
    """Counts one update; copies the weights when a period is complete."""
    self.updates.assign_add(1)
    if self.updates % self._period == 0:  # a tf.cond inside a tf.function
      self.copy()
