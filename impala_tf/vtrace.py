"""V-trace off-policy actor-critic targets (Espeholt et al. 2018, §4).

Notation, used by every function here:
  T: number of time steps in an unroll (the learner sees T+1 observations;
     the last one only supplies `bootstrap_value`).
  B: batch size. Tensors may carry extra trailing dimensions after [T, B]
     (for example one value per task); they are treated element-wise.

For s in [0, T) the V-trace target is defined by the recursion (paper Eq. 1
rewritten as in Remark 1)

  v_s = V(x_s) + δ_s + γ_s c_s (v_{s+1} − V(x_{s+1})),
  δ_s = ρ_s (r_s + γ_s V(x_{s+1}) − V(x_s)),

with ρ_s = min(ρ̄, π/μ), c_s = λ min(c̄, π/μ) and v_T = V(x_T) = bootstrap_value.
λ ∈ [0, 1] scales the trace coefficients as in Retrace(λ) (and rlax's
`lambda_`): it trades the variance of long traces against the bias of the
value function, like TD(λ) or GAE(λ). λ = 1 is the paper's V-trace; on-policy
it gives the T-step return.
The policy-gradient advantage is ρ^pg_s (r_s + γ_s v_{s+1} − V(x_s)) with its
own truncation ρ̄_pg. Everything returned is wrapped in `tf.stop_gradient`:
the targets are constants for the loss.
"""

import collections
from typing import Optional

import tensorflow as tf

VTraceReturns = collections.namedtuple('VTraceReturns', ['vs', 'pg_advantages'])

VTraceFromLogitsReturns = collections.namedtuple(
    'VTraceFromLogitsReturns',
    ['vs', 'pg_advantages', 'log_rhos', 'behaviour_action_log_probs',
     'target_action_log_probs'])


def _check_float(name, tensor):
  if not tensor.dtype.is_floating:
    raise TypeError(f'{name} must be a floating-point tensor, got {tensor.dtype.name}.')


def _check_rank_at_least(name, tensor, rank):
  if tensor.shape.rank is not None and tensor.shape.rank < rank:
    raise ValueError(
        f'{name} must have rank >= {rank} ([T, B, ...]), got shape {tensor.shape}.')


def _truncate(ratios, threshold):
  """Returns min(threshold, ratios); `None` (or +inf) switches truncation off."""
  if threshold is None:
    return ratios
  return tf.minimum(tf.cast(threshold, ratios.dtype), ratios)


def action_log_probs(policy_logits, actions):
  """Log π(a|x) of a categorical policy.

  Args:
    policy_logits: float [T, B, NUM_ACTIONS] unnormalised log-probabilities.
    actions: int [T, B] chosen actions.

  Returns:
    float [T, B] log-probabilities of `actions`.
  """
  policy_logits = tf.convert_to_tensor(policy_logits)
  actions = tf.convert_to_tensor(actions)
  _check_float('policy_logits', policy_logits)
  if actions.dtype.is_floating:
    raise TypeError(f'actions must be integer, got {actions.dtype.name}.')
  if (policy_logits.shape.rank is not None and actions.shape.rank is not None
      and policy_logits.shape.rank != actions.shape.rank + 1):
    raise ValueError(
        f'policy_logits {policy_logits.shape} must have one more dimension than '
        f'actions {actions.shape}.')
  return -tf.nn.sparse_softmax_cross_entropy_with_logits(
      logits=policy_logits, labels=tf.cast(actions, tf.int32))


def from_logits(behaviour_policy_logits,
                target_policy_logits,
                actions,
                discounts,
                rewards,
                values,
                bootstrap_value,
                clip_rho_threshold: Optional[float] = 1.0,
                clip_pg_rho_threshold: Optional[float] = 1.0,
                clip_c_threshold: Optional[float] = 1.0,
                lambda_: float = 1.0,
                name: str = 'vtrace_from_logits') -> VTraceFromLogitsReturns:
  """V-trace for categorical policies given as logits.

  Args:
    behaviour_policy_logits: float [T, B, NUM_ACTIONS], the actors' policy μ.
    target_policy_logits: float [T, B, NUM_ACTIONS], the learner's policy π.
    actions: int [T, B], actions sampled from μ.
    discounts: float [T, B], γ_s; 0 where the episode terminated after step s.
    rewards: float [T, B], r_s.
    values: float [T, B], V(x_s) from the learner's value function.
    bootstrap_value: float [B], V(x_T).
    clip_rho_threshold: ρ̄, or None for no truncation.
    clip_pg_rho_threshold: ρ̄ of the policy-gradient ratios, or None.
    clip_c_threshold: c̄ (trace cutting), or None.
    lambda_: λ in [0, 1], multiplies every trace coefficient c_s.
    name: name scope.

  Returns:
    VTraceFromLogitsReturns; `vs` and `pg_advantages` are [T, B], the log
    probabilities and `log_rhos` [T, B] (the log-probabilities keep their
    gradient; only the V-trace targets are constants).
  """
  with tf.name_scope(name):
    behaviour_policy_logits = tf.convert_to_tensor(behaviour_policy_logits)
    target_policy_logits = tf.convert_to_tensor(target_policy_logits)
    for arg_name, t in [('behaviour_policy_logits', behaviour_policy_logits),
                        ('target_policy_logits', target_policy_logits)]:
      _check_float(arg_name, t)
      if t.shape.rank is not None and t.shape.rank != 3:
        raise ValueError(f'{arg_name} must be [T, B, NUM_ACTIONS], got {t.shape}.')
    target_action_log_probs = action_log_probs(target_policy_logits, actions)
    behaviour_action_log_probs = action_log_probs(behaviour_policy_logits, actions)
    log_rhos = target_action_log_probs - behaviour_action_log_probs
    returns = from_importance_weights(
        log_rhos=log_rhos,
        discounts=discounts,
        rewards=rewards,
        values=values,
        bootstrap_value=bootstrap_value,
        clip_rho_threshold=clip_rho_threshold,
        clip_pg_rho_threshold=clip_pg_rho_threshold,
        clip_c_threshold=clip_c_threshold,
        lambda_=lambda_)
    return VTraceFromLogitsReturns(
        vs=returns.vs,
        pg_advantages=returns.pg_advantages,
        log_rhos=log_rhos,
        behaviour_action_log_probs=behaviour_action_log_probs,
        target_action_log_probs=target_action_log_probs)


def from_importance_weights(log_rhos,
                            discounts,
                            rewards,
                            values,
                            bootstrap_value,
                            clip_rho_threshold: Optional[float] = 1.0,
                            clip_pg_rho_threshold: Optional[float] = 1.0,
                            clip_c_threshold: Optional[float] = 1.0,
                            lambda_=1.0,
                            name: str = 'vtrace_from_importance_weights'
                           ) -> VTraceReturns:
  """V-trace targets from log importance weights log(π(a_s|x_s) / μ(a_s|x_s)).

  Args:
    log_rhos: float [T, B, ...], log importance ratios (no truncation applied).
    discounts: float [T, B, ...], γ_s.
    rewards: float [T, B, ...], r_s.
    values: float [T, B, ...], V(x_s).
    bootstrap_value: float [B, ...], V(x_T).
    clip_rho_threshold: ρ̄ for the value targets, or None.
    clip_pg_rho_threshold: ρ̄ for the policy-gradient advantages, or None.
    clip_c_threshold: c̄ for trace cutting, or None. The paper requires
      ρ̄ ≥ c̄ for its contraction argument; it is not enforced here.
    lambda_: λ in [0, 1] (a float or a scalar tensor): c_s = λ min(c̄, ρ_s).

  Returns:
    VTraceReturns(vs [T, B, ...], pg_advantages [T, B, ...]), gradient-free.
  """
  with tf.name_scope(name):
    log_rhos = tf.convert_to_tensor(log_rhos)
    dtype = log_rhos.dtype
    tensors = {
        'log_rhos': log_rhos,
        'discounts': tf.convert_to_tensor(discounts),
        'rewards': tf.convert_to_tensor(rewards),
        'values': tf.convert_to_tensor(values),
        'bootstrap_value': tf.convert_to_tensor(bootstrap_value),
    }
    for arg_name, t in tensors.items():
      _check_float(arg_name, t)
      if t.dtype != dtype:
        raise TypeError(f'{arg_name} has dtype {t.dtype.name}, expected '
                        f'{dtype.name} like log_rhos.')
    for arg_name in ('log_rhos', 'discounts', 'rewards', 'values'):
      _check_rank_at_least(arg_name, tensors[arg_name], 2)
      if not tensors[arg_name].shape.is_compatible_with(log_rhos.shape):
        raise ValueError(f'{arg_name} has shape {tensors[arg_name].shape}, '
                         f'expected {log_rhos.shape} like log_rhos.')
    discounts, rewards, values = (
        tensors['discounts'], tensors['rewards'], tensors['values'])
    bootstrap_value = tensors['bootstrap_value']
    if not bootstrap_value.shape.is_compatible_with(log_rhos.shape[1:]):
      raise ValueError(f'bootstrap_value has shape {bootstrap_value.shape}, '
                       f'expected {log_rhos.shape[1:]} (values without time).')

    rhos = tf.exp(log_rhos)
    clipped_rhos = _truncate(rhos, clip_rho_threshold)
    cs = tf.cast(lambda_, dtype) * _truncate(rhos, clip_c_threshold)
    values_t_plus_1 = tf.concat([values[1:], bootstrap_value[None]], axis=0)
    deltas = clipped_rhos * (rewards + discounts * values_t_plus_1 - values)

    # Backward recursion on v_s − V(x_s); a scan keeps it one graph op that
    # XLA compiles, and `reverse=True` walks from s = T−1 down to 0.
    def step(acc, elems):
      delta_t, discount_t, c_t = elems
      return delta_t + discount_t * c_t * acc

    vs_minus_v = tf.scan(
        step, (deltas, discounts, cs),
        initializer=tf.zeros_like(bootstrap_value),
        reverse=True)
    vs = vs_minus_v + values

    vs_t_plus_1 = tf.concat([vs[1:], bootstrap_value[None]], axis=0)
    clipped_pg_rhos = _truncate(rhos, clip_pg_rho_threshold)
    pg_advantages = clipped_pg_rhos * (rewards + discounts * vs_t_plus_1 - values)
    return VTraceReturns(
        vs=tf.stop_gradient(vs), pg_advantages=tf.stop_gradient(pg_advantages))
