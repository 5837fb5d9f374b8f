"""IMPALA loss terms (paper §4.2) and the off-policy corrections of Table 2.

All tensors are time-major: [T, B] per step, with the conventions of
`impala_tf.vtrace`. `mask` is 1.0 for real transitions and 0.0 for steps that
must not be learnt from: the extra step a gymnasium vector env spends on an
automatic reset (its action is ignored by the environment). A masked step
cuts the trace (ρ_s = c_s = 0), so v_s = V(x_s) there: a truncated episode
bootstraps from the value of its last real observation.

Losses are sums over time and batch, as in the paper's implementation; the
learning rates of paper Table G.1 assume that scale. The learner may scale
the total by 1 / (real transitions) to make it a mean (`loss_reduction`).

Beyond the paper, for several optimisation passes over one batch (as APPO
does): normalised advantages, and PPO's clipped surrogate in place of the
ρ-weighted policy gradient (Schulman et al. 2017, Eq. 7).
"""

import collections
import math

import tensorflow as tf

from impala_tf import vtrace
from impala_tf.choices import CORRECTIONS
from impala_tf.choices import REWARD_CLIPPINGS

# Paper Table 2: "ε-correction" adds a small ε = 1e-6 to π inside log π.
EPSILON_CORRECTION = 1e-6

LossOutput = collections.namedtuple(
    'LossOutput',
    ['total_loss', 'pg_loss', 'baseline_loss', 'entropy_loss', 'entropy',
     'vs', 'pg_advantages', 'log_rhos', 'clipped_fraction', 'values'])


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


def clipped_surrogate_loss(log_ratios, advantages, mask, epsilon):
  """−Σ mask · min(r_s A_s, clip(r_s, 1 − ε, 1 + ε) A_s), r_s = π/μ.

  PPO's clipped surrogate (Schulman et al. 2017, Eq. 7): once the learner's
  policy has moved more than ε from the behaviour policy on an action in
  the direction the advantage favours, that sample stops pushing. This is
  what keeps several passes over one batch from overshooting.

  Args:
    log_ratios: float [T, B], log π(a_s|x_s) − log μ(a_s|x_s), with gradient
      through log π.
    advantages: float [T, B], treated as constants.
    mask: float [T, B].
    epsilon: the clip range ε > 0.

  Returns:
    (loss, fraction of real transitions whose ratio was clipped).
  """
  advantages = tf.stop_gradient(advantages)
  ratios = tf.exp(log_ratios)
  clipped = tf.clip_by_value(ratios, 1.0 - epsilon, 1.0 + epsilon)
  surrogate = tf.minimum(ratios * advantages, clipped * advantages)
  outside = tf.cast(tf.abs(ratios - 1.0) > epsilon, mask.dtype)
  fraction = tf.reduce_sum(outside * mask) / tf.maximum(tf.reduce_sum(mask), 1.0)
  return -tf.reduce_sum(mask * surrogate), fraction


def normalize_advantages(advantages, mask, cross_replica_sum=None):
  """(A − mean) / (std + 1e-8) over the real transitions of the batch.

  Args:
    advantages: float [T, B].
    mask: float [T, B]; masked steps are left out of the moments and set to 0.
    cross_replica_sum: optional fn summing a tensor over replicas, so the
      moments are those of the global batch under tf.distribute.
  """
  # Two passes: the mean first, then the squares of the deviations from it.
  # The one-pass Σx²/n − mean² cancels in float32 when the mean dwarfs the
  # spread (returns of +1000 that differ by 0.1), and gives 0 or noise.
  total = lambda x: x if cross_replica_sum is None else cross_replica_sum(x)
  sums = total(tf.stack([tf.reduce_sum(mask), tf.reduce_sum(mask * advantages)]))
  count = tf.maximum(sums[0], 1.0)
  mean = sums[1] / count
  centred = mask * (advantages - mean)
  variance = total(tf.reduce_sum(tf.square(centred))) / count
  return centred / (tf.sqrt(variance) + 1e-8)


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
                    clip_c_threshold=1.0,
                    lambda_=1.0):
  """Value targets and policy-gradient advantages for one correction mode.

  Args:
    correction: one of CORRECTIONS (paper Table 2):
      'vtrace': V-trace targets and advantages.
      'one_step_is': n-step targets with no correction; the advantage
        r_s + γ_s v_{s+1} − V(x_s) is multiplied by min(ρ̄_pg, ρ_s), truncated
        at clip_pg_rho_threshold as the paper does (§5.2.2: "for V-trace and
        1-step importance sampling we clip each importance weight at 1");
        clip_pg_rho_threshold=None or inf leaves ρ_s untruncated.
      'epsilon_correction', 'no_correction': n-step targets and advantages
        with no correction (the data are treated as on-policy); the former
        differs only in the log π of the policy gradient, see `impala_loss`.
    target_log_probs, behaviour_log_probs: float [T, B], log π(a_s|x_s) and
      log μ(a_s|x_s).
    discounts, rewards, values: float [T, B].
    bootstrap_value: float [B].
    mask: float [T, B].
    clip_*_threshold: truncation levels for 'vtrace' (None or inf: off);
      clip_pg_rho_threshold also truncates 'one_step_is'.
    lambda_: λ of the trace coefficients (all modes; 1 is the paper's).

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
        clip_c_threshold=clip_c_threshold,
        lambda_=lambda_)
    return returns.vs, returns.pg_advantages, log_rhos
  on_policy = vtrace.from_importance_weights(
      log_rhos=tf.where(real, tf.zeros_like(log_rhos), blocked),
      discounts=discounts, rewards=rewards, values=values,
      bootstrap_value=bootstrap_value,
      clip_rho_threshold=None, clip_pg_rho_threshold=None, clip_c_threshold=None,
      lambda_=lambda_)
  pg_advantages = on_policy.pg_advantages
  if correction == 'one_step_is':
    rhos = tf.exp(log_rhos)
    if clip_pg_rho_threshold is not None and not math.isinf(clip_pg_rho_threshold):
      rhos = tf.minimum(tf.cast(clip_pg_rho_threshold, rhos.dtype), rhos)
    pg_advantages = tf.where(real, rhos * pg_advantages, tf.zeros_like(pg_advantages))
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
                clip_c_threshold=1.0,
                lambda_=1.0,
                advantage_normalization: bool = False,
                ppo_clip=None,
                cross_replica_sum=None,
                popart=None) -> LossOutput:
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
    lambda_: λ of V-trace's trace coefficients.
    advantage_normalization: normalise the policy-gradient advantages over
      the batch (see `normalize_advantages`).
    ppo_clip: None, or ε of PPO's clipped surrogate, which then replaces the
      ρ-weighted policy gradient. Its advantage is r_s + γ_s v_{s+1} − V(x_s)
      with V-trace's v_{s+1}, without the ρ factor: the surrogate's ratio
      π/μ is the importance weight. Needs correction='vtrace'.
    cross_replica_sum: fn summing over replicas, for global advantage moments.
    popart: None, or (μ, σ), each float [B]: the PopArt statistics of each
      trajectory's task. `values` and `bootstrap_value` are then the
      network's normalised outputs n(s); V-trace runs on σ n + μ, the
      baseline loss regresses n(x_s) on (v_s − μ) / σ, and the
      policy-gradient advantages are divided by σ (see impala_tf.popart).

  Returns:
    LossOutput; `total_loss` = pg + baseline_cost·baseline + entropy_cost·entropy.
    `clipped_fraction` is the share of transitions outside PPO's clip range
    (0 without ppo_clip); `values` are the unnormalised V(x_s) [T, B].
  """
  if ppo_clip is not None and correction != 'vtrace':
    raise ValueError(f"ppo_clip needs correction='vtrace', got {correction!r}.")
  mask = tf.cast(mask, values.dtype)
  rewards = clip_rewards(rewards, reward_clipping)
  bootstrap_value = tf.stop_gradient(bootstrap_value)
  normalized_values = values
  if popart is not None:
    mu, sigma = (tf.stop_gradient(tf.cast(x, values.dtype)) for x in popart)
    values = sigma * values + mu
    bootstrap_value = sigma * bootstrap_value + mu
  target_log_probs = distribution.log_prob(target_policy_params, actions)
  behaviour_log_probs = distribution.log_prob(behaviour_policy_params, actions)
  vs, pg_advantages, log_rhos = compute_targets(
      correction,
      target_log_probs=target_log_probs,
      behaviour_log_probs=behaviour_log_probs,
      discounts=discounts,
      rewards=rewards,
      values=values,
      bootstrap_value=bootstrap_value,
      mask=mask,
      clip_rho_threshold=clip_rho_threshold,
      clip_pg_rho_threshold=clip_pg_rho_threshold,
      clip_c_threshold=clip_c_threshold,
      lambda_=lambda_)
  if ppo_clip is not None:
    vs_t_plus_1 = tf.concat([vs[1:], bootstrap_value[None]], axis=0)
    pg_advantages = mask * tf.stop_gradient(rewards + discounts * vs_t_plus_1 - values)
  if popart is not None:
    pg_advantages = pg_advantages / sigma
  if advantage_normalization:
    pg_advantages = normalize_advantages(pg_advantages, mask, cross_replica_sum)
  entropy = distribution.entropy(target_policy_params)
  clipped_fraction = tf.zeros([], values.dtype)
  if ppo_clip is not None:
    pg, clipped_fraction = clipped_surrogate_loss(
        target_log_probs - tf.stop_gradient(behaviour_log_probs), pg_advantages, mask,
        ppo_clip)
  else:
    pg_log_probs = target_log_probs
    if correction == 'epsilon_correction':
      pg_log_probs = distribution.log_prob(
          target_policy_params, actions, epsilon=EPSILON_CORRECTION)
    pg = policy_gradient_loss(pg_log_probs, pg_advantages, mask)
  if popart is not None:
    baseline = baseline_loss((vs - mu) / sigma, normalized_values, mask)
  else:
    baseline = baseline_loss(vs, values, mask)
  ent = entropy_loss(entropy, mask)
  total = pg + baseline_cost * baseline + entropy_cost * ent
  return LossOutput(
      total_loss=total, pg_loss=pg, baseline_loss=baseline, entropy_loss=ent,
      entropy=entropy, vs=vs, pg_advantages=pg_advantages, log_rhos=log_rhos,
      clipped_fraction=clipped_fraction, values=values)
