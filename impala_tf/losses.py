"""IMPALA loss terms (paper §4.2) and the off-policy corrections of Table 2.

All tensors are time-major: [T, B] per step, with the conventions of
`impala_tf.vtrace`. `mask` is 1.0 for real transitions and 0.0 for steps that
must not be learnt from: the extra step a gymnasium vector env spends on an
automatic reset (its action is ignored by the environment). A masked step
cuts the trace (ρ_s = c_s = 0), so v_s = V(x_s) there: a truncated episode
bootstraps from the value of its last real observation.

Losses are sums over time and batch, as in the paper's implementation; the
learning rates of paper Table G.1 assume that scale.
"""

import collections
import math

import tensorflow as tf

from impala_tf import vtrace

CORRECTIONS = ('vtrace', 'one_step_is', 'epsilon_correction', 'no_correction')
REWARD_CLIPPINGS = ('abs_one', 'soft_asymmetric', 'none')

# Paper Table 2: "ε-correction" adds a small ε = 1e-6 to π inside log π.
EPSILON_CORRECTION = 1e-6

LossOutput = collections.namedtuple(
    'LossOutput',
    ['total_loss', 'pg_loss', 'baseline_loss', 'entropy_loss', 'entropy',
     'vs', 'pg_advantages', 'log_rhos'])


def clip_rewards(rewards, mode: str):
  """Clips rewards as the paper does.

  Args:
    rewards: float [T, B, ...].
    mode: 'abs_one' clips to [−1, 1] (Atari); 'soft_asymmetric' squashes
      with 5·tanh(r/5) and scales negative rewards by 0.3 (the optimistic
      asymmetric clipping used for DMLab, paper §5.3 / appendix); 'none'.

  Returns:
    float tensor like `rewards`.
  """
  if mode == 'abs_one':
    return tf.clip_by_value(rewards, -1.0, 1.0)
  if mode == 'soft_asymmetric':
    squeezed = 5.0 * tf.tanh(rewards / 5.0)
    return tf.where(rewards < 0, 0.3 * squeezed, squeezed)
  if mode == 'none':
    return rewards
  raise ValueError(f'reward_clipping must be one of {REWARD_CLIPPINGS}, got {mode!r}.')


def policy_gradient_loss(action_log_probs, advantages, mask):
  """−Σ mask · log π(a_s|x_s) · A_s, with A_s treated as a constant.

  Args:
    action_log_probs: float [T, B], log π(a_s|x_s) with gradient.
    advantages: float [T, B], e.g. ρ_s (r_s + γ_s v_{s+1} − V(x_s)).
    mask: float [T, B].
  """
  return -tf.reduce_sum(mask * action_log_probs * tf.stop_gradient(advantages))


def baseline_loss(vs, values, mask):
  """½ Σ mask · (v_s − V(x_s))², with v_s a constant target."""
  return 0.5 * tf.reduce_sum(mask * tf.square(tf.stop_gradient(vs) - values))


def entropy_loss(entropy, mask):
  """−Σ mask · H(π(·|x_s)): minimising it maximises entropy."""
  return -tf.reduce_sum(mask * entropy)


def compute_targets(correction: str,
                    target_log_probs,
                    behaviour_log_probs,
                    discounts,
                    rewards,
                    values,
                    bootstrap_value,
                    mask,
                    clip_rho_threshold=1.0,
                    clip_pg_rho_threshold=1.0,
                    clip_c_threshold=1.0):
  """Value targets and policy-gradient advantages for one correction mode.

  Args:
    correction: one of CORRECTIONS (paper Table 2):
      'vtrace': V-trace targets and advantages.
      'one_step_is': n-step targets with no correction; the advantage
        r_s + γ_s v_{s+1} − V(x_s) is multiplied by the untruncated ratio ρ_s.
      'epsilon_correction', 'no_correction': n-step targets and advantages
        with no correction (the data are treated as on-policy); the former
        differs only in the log π of the policy gradient, see `impala_loss`.
    target_log_probs, behaviour_log_probs: float [T, B], log π(a_s|x_s) and
      log μ(a_s|x_s).
    discounts, rewards, values: float [T, B].
    bootstrap_value: float [B].
    mask: float [T, B].
    clip_*_threshold: truncation levels for 'vtrace' (None or inf: off).

  Returns:
    (vs, pg_advantages, log_rhos), each float [T, B] and gradient-free.
  """
  if correction not in CORRECTIONS:
    raise ValueError(f'correction must be one of {CORRECTIONS}, got {correction!r}.')
  log_rhos = tf.stop_gradient(target_log_probs - behaviour_log_probs)
  # exp(−inf) = 0: masked steps get ρ = c = 0, so they neither contribute nor
  # carry the trace across the reset.
  blocked = tf.fill(tf.shape(log_rhos), tf.constant(-math.inf, log_rhos.dtype))
  real = mask > 0
  if correction == 'vtrace':
    returns = vtrace.from_importance_weights(
        log_rhos=tf.where(real, log_rhos, blocked),
        discounts=discounts, rewards=rewards, values=values,
        bootstrap_value=bootstrap_value,
        clip_rho_threshold=clip_rho_threshold,
        clip_pg_rho_threshold=clip_pg_rho_threshold,
        clip_c_threshold=clip_c_threshold)
    return returns.vs, returns.pg_advantages, log_rhos
  on_policy = vtrace.from_importance_weights(
      log_rhos=tf.where(real, tf.zeros_like(log_rhos), blocked),
      discounts=discounts, rewards=rewards, values=values,
      bootstrap_value=bootstrap_value,
      clip_rho_threshold=None, clip_pg_rho_threshold=None, clip_c_threshold=None)
  pg_advantages = on_policy.pg_advantages
  if correction == 'one_step_is':
    pg_advantages = tf.where(real, tf.exp(log_rhos) * pg_advantages,
                             tf.zeros_like(pg_advantages))
  return on_policy.vs, tf.stop_gradient(pg_advantages), log_rhos


def impala_loss(distribution,
                target_policy_params,
                behaviour_policy_params,
                actions,
                rewards,
                discounts,
                values,
                bootstrap_value,
                mask,
                correction: str = 'vtrace',
                reward_clipping: str = 'abs_one',
                baseline_cost: float = 0.5,
                entropy_cost: float = 0.01,
                clip_rho_threshold=1.0,
                clip_pg_rho_threshold=1.0,
                clip_c_threshold=1.0) -> LossOutput:
  """The full IMPALA loss: policy gradient + baseline + entropy bonus.

  Args:
    distribution: an `impala_tf.distributions` object.
    target_policy_params: float [T, B, P], the learner's policy (with gradient).
    behaviour_policy_params: float [T, B, P], recorded by the actors.
    actions: [T, B] (categorical) or [T, B, ACTION_DIM] (Gaussian).
    rewards: float [T, B], unclipped rewards r_s.
    discounts: float [T, B], γ_s (0 after a termination).
    values: float [T, B], V(x_s) with gradient.
    bootstrap_value: float [B], V(x_T) (no gradient is taken through it).
    mask: float [T, B], 1 for real transitions.
    correction, reward_clipping: see `compute_targets`, `clip_rewards`.
    baseline_cost, entropy_cost: coefficients of the baseline and entropy terms.
    clip_*_threshold: V-trace truncation levels.

  Returns:
    LossOutput; `total_loss` = pg + baseline_cost·baseline + entropy_cost·entropy.
  """
  mask = tf.cast(mask, values.dtype)
  target_log_probs = distribution.log_prob(target_policy_params, actions)
  behaviour_log_probs = distribution.log_prob(behaviour_policy_params, actions)
  vs, pg_advantages, log_rhos = compute_targets(
      correction,
      target_log_probs=target_log_probs,
      behaviour_log_probs=behaviour_log_probs,
      discounts=discounts,
      rewards=clip_rewards(rewards, reward_clipping),
      values=values,
      bootstrap_value=tf.stop_gradient(bootstrap_value),
      mask=mask,
      clip_rho_threshold=clip_rho_threshold,
      clip_pg_rho_threshold=clip_pg_rho_threshold,
      clip_c_threshold=clip_c_threshold)
  pg_log_probs = target_log_probs
  if correction == 'epsilon_correction':
    pg_log_probs = distribution.log_prob(
        target_policy_params, actions, epsilon=EPSILON_CORRECTION)
  entropy = distribution.entropy(target_policy_params)
  pg = policy_gradient_loss(pg_log_probs, pg_advantages, mask)
  baseline = baseline_loss(vs, values, mask)
  ent = entropy_loss(entropy, mask)
  total = pg + baseline_cost * baseline + entropy_cost * ent
  return LossOutput(
      total_loss=total, pg_loss=pg, baseline_loss=baseline, entropy_loss=ent,
      entropy=entropy, vs=vs, pg_advantages=pg_advantages, log_rhos=log_rhos)
