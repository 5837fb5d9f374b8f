"""R2D2's loss and priorities, as pure functions over time-major tensors.

Notation: T steps of a replayed sequence after burn-in, B sequences, A
actions. `q_*` are [T, B, A]; per-step values [T, B]. A step's reward r_t and
discount d_t follow its action a_t: d_t = γ, or 0 when the episode ended at
step t. `mask` [T, B] is 1 on real steps, 0 on the padding after an episode
ends (sequences never cross an episode boundary; Section 2.3 of the paper).

The paper's target for step t, with n-step returns, double Q-learning and
the value rescaling h of Pohlen et al. (2018):

  y_t = h( Σ_{k<n} (Π_{j<k} d_{t+j}) r_{t+k}
           + (Π_{j<n} d_{t+j}) h⁻¹( Q_target(s_{t+n}, argmax_a Q_online(s_{t+n}, a)) ) )

Step t needs s_{t+n} in the sequence, unless the episode ends on the way
(a discount of 0 at a step t + k < t + n: nothing past it counts). So every
step of a sequence before its last n is trained, and of the last n those
whose episode ends inside the sequence: an episode's final steps are trained
wherever in a sequence they fall, not only when they lie before its last n
positions. Past the sequence's end the sums see rewards of 0 and discounts
of 0, which only the untrained steps (no end on the way) would reach.
"""

import collections

import tensorflow as tf

from impala_tf.agents.r2d2 import config as r2d2_config


def value_rescale(x, epsilon: float = 1e-3):
  """h(x) = sign(x)(√(|x| + 1) − 1) + εx."""
  return tf.sign(x) * (tf.sqrt(tf.abs(x) + 1.0) - 1.0) + epsilon * x


def inverse_value_rescale(x, epsilon: float = 1e-3):
  """h⁻¹(x) = sign(x)(((√(1 + 4ε(|x| + 1 + ε)) − 1) / 2ε)² − 1), exactly."""
  root = (tf.sqrt(1.0 + 4.0 * epsilon * (tf.abs(x) + 1.0 + epsilon)) - 1.0) / (2.0 * epsilon)
  return tf.sign(x) * (tf.square(root) - 1.0)


def _check(q_online, q_target, actions, rewards, discounts, mask, n):
  if q_online.shape.rank != 3 or q_target.shape.rank != 3:
    raise ValueError(f'q values must be [T, B, A], got {q_online.shape} and {q_target.shape}.')
  for name, x in (('actions', actions), ('rewards', rewards), ('discounts', discounts),
                  ('mask', mask)):
    if x.shape.rank != 2:
      raise ValueError(f'{name} must be [T, B], got {x.shape}.')
  if not 1 <= n < q_online.shape[0]:
    raise ValueError(f'n must be in [1, T) = [1, {q_online.shape[0]}), got {n}.')


def _pad_time(x, n: int):
  """`x` [T, ...] followed by n steps of zeros: [T + n, ...]."""
  return tf.concat([x, tf.zeros(tf.concat([[n], tf.shape(x)[1:]], 0), x.dtype)], 0)


def n_step_double_q_targets(q_online, q_target, rewards, discounts, n: int,
                            epsilon: float = 1e-3):
  """y_t for every step t (see the module docstring), float32 [T, B]; for a
  step in the last n whose episode does not end in the sequence the value is
  finite but meaningless (`trained_mask` leaves it out).

  Args:
    q_online: float32 [T, B, A], the online network's Q (it picks the action
      at s_{t+n}: double Q-learning).
    q_target: float32 [T, B, A], the target network's Q (it values it).
    rewards: float32 [T, B].
    discounts: float32 [T, B], γ or 0 where the episode ended at that step.
    n: the return's length.
    epsilon: ε of the value rescaling.
  """
  t_len = q_online.shape[0]
  best = tf.argmax(q_online[n:], axis=-1, output_type=tf.int32)
  bootstrap = inverse_value_rescale(
      tf.gather(q_target[n:], best, axis=-1, batch_dims=2), epsilon)  # [T − n, B]
  bootstrap = _pad_time(bootstrap, n)                                # [T, B]
  rewards, discounts = _pad_time(rewards, n), _pad_time(discounts, n)
  ret = tf.zeros_like(bootstrap)
  scale = tf.ones_like(bootstrap)
  for k in range(n):
    ret += scale * rewards[k:t_len + k]
    scale *= discounts[k:t_len + k]
  return tf.stop_gradient(value_rescale(ret + scale * bootstrap, epsilon))


def trained_mask(mask, discounts, n: int):
  """Which steps have a target, float32 [T, B].

  Step t is trained when it is real and its n-step return stays in the
  sequence's real steps: s_{t+n} is real (so t < T − n), or a real step on
  the way, inside the sequence, ended the episode (discount 0), so nothing
  past it counts. A sequence cut by a time limit (padding after a step whose
  discount is still γ) leaves its last n steps untrained: their bootstrap
  state was never seen.
  """
  t_len = mask.shape[0]
  ended = _pad_time(tf.cast(tf.equal(discounts, 0.0), mask.dtype) * mask, n)
  stops = tf.reduce_max(tf.stack([ended[k:t_len + k] for k in range(n)]), axis=0)
  return mask * tf.maximum(_pad_time(mask, n)[n:], stops)


# loss: scalar; td_errors: [T, B] (meaningful where `trained_mask`); priorities: [B].
LossOutput = collections.namedtuple('LossOutput', ['loss', 'td_errors', 'priorities'])


def sequence_priorities(td_errors, mask, eta: float = 0.9):
  """p = η max_t |δ_t| + (1 − η) mean_t |δ_t| over each sequence's real steps.

  Args:
    td_errors: float32 [T', B].
    mask: float32 [T', B], 1 on real steps.
  Returns:
    float32 [B]; 0 for a sequence with no real step.
  """
  magnitude = tf.abs(td_errors) * mask
  count = tf.reduce_sum(mask, axis=0)
  mean = tf.math.divide_no_nan(tf.reduce_sum(magnitude, axis=0), count)
  return eta * tf.reduce_max(magnitude, axis=0) + (1.0 - eta) * mean


# How the loss reduces its per-step terms (`r2d2.loss_reduction`).
REDUCTIONS = r2d2_config.LOSS_REDUCTIONS


def r2d2_loss(q_online, q_target, actions, rewards, discounts, mask, n: int = 5,
              epsilon: float = 1e-3, eta: float = 0.9, importance_weights=None,
              cross_replica_sum=None, reduction: str = 'sum_over_time'):
  """The R2D2 loss of one batch of sequences (after burn-in).

  Args:
    q_online: float32 [T, B, A], the online network on the sequence.
    q_target: float32 [T, B, A], the target network on the same sequence.
    actions: int32 [T, B], the actions taken.
    rewards, discounts: float32 [T, B] (see the module docstring).
    mask: float32 [T, B], 1 on real steps.
    n, epsilon, eta: the paper's n = 5, ε = 1e-3, η = 0.9.
    importance_weights: optional float32 [B], prioritised replay's
      importance-sampling weights (the paper's appendix table gives an exponent
      of 0.6; `r2d2.importance_sampling_exponent`, default 0, see docs/r2d2.md).
    cross_replica_sum: fn summing a tensor over replicas (None: one
      replica). The loss is then this replica's share of the global batch's
      loss: its sum over the global count (of sequences, or of trained
      steps), so the replicas' gradients add up to the gradient of the
      global loss.
    reduction: 'sum_over_time': Σ_{t, b} w_b · ½ δ² · m / B, each
      sequence's terms summed over its steps and averaged over the batch
      (Acme's and seed_rl's R2D2); 'mean': Σ_{t, b} w_b · ½ δ² · m / Σ m,
      the mean over the trained steps, whose gradient is about T − n times
      smaller (which matters with Adam's ε of 1e-3; docs/r2d2.md).
  Returns:
    LossOutput: the loss, the TD errors δ_t = y_t − Q_online(s_t, a_t) in the
    rescaled space (m = `trained_mask` says where they count), and each
    sequence's priority.
  """
  if reduction not in REDUCTIONS:
    raise ValueError(f'reduction must be one of {REDUCTIONS}, got {reduction!r}.')
  _check(q_online, q_target, actions, rewards, discounts, mask, n)
  targets = n_step_double_q_targets(q_online, q_target, rewards, discounts, n, epsilon)
  q_taken = tf.gather(q_online, actions, axis=-1, batch_dims=2)
  td_errors = targets - q_taken
  trained = trained_mask(mask, discounts, n)
  weights = trained if importance_weights is None else trained * importance_weights[None]
  if reduction == 'mean':
    count = tf.reduce_sum(trained)
  else:
    count = tf.cast(tf.shape(trained)[1], trained.dtype)
  if cross_replica_sum is not None:
    count = cross_replica_sum(count)
  loss = tf.math.divide_no_nan(tf.reduce_sum(0.5 * tf.square(td_errors) * weights), count)
  return LossOutput(loss, td_errors, sequence_priorities(tf.stop_gradient(td_errors),
                                                         trained, eta))
