"""IMPALA loss terms and correction modes, checked against hand computations."""

from absl.testing import parameterized
import numpy as np
import tensorflow as tf

from impala_tf import distributions
from impala_tf import losses


def _softmax(x):
  e = np.exp(x - x.max(-1, keepdims=True))
  return e / e.sum(-1, keepdims=True)


class ClipRewardsTest(tf.test.TestCase):

  def test_modes(self):
    r = np.array([-10.0, -1.0, -0.3, 0.0, 0.5, 3.0], np.float32)
    self.assertAllClose([-1, -1, -0.3, 0, 0.5, 1], losses.clip_rewards(r, 'abs_one'))
    squeezed = 5.0 * np.tanh(r / 5.0)
    expected = np.where(r < 0, 0.3 * squeezed, squeezed)
    self.assertAllClose(expected, losses.clip_rewards(r, 'soft_asymmetric'))
    self.assertAllClose(r, losses.clip_rewards(r, 'none'))
    with self.assertRaisesRegex(ValueError, 'reward_clipping'):
      losses.clip_rewards(r, 'sign')


class PolicyGradientTest(tf.test.TestCase, parameterized.TestCase):

  @parameterized.parameters('vtrace', 'one_step_is', 'no_correction')
  def test_gradient_equals_rho_advantage_grad_log_pi(self, correction):
    # A linear policy logits = x W over 3 actions, one step (T = 1), so the
    # advantage is ρ̃ (r + γ V(x_1) − V(x_0)) with V given as constants.
    rng = np.random.default_rng(0)
    b, d, a = 4, 5, 3
    x = rng.normal(size=(b, d)).astype(np.float32)
    w0 = rng.normal(size=(d, a)).astype(np.float32)
    behaviour_logits = rng.normal(size=(1, b, a)).astype(np.float32) * 2
    actions = rng.integers(0, a, size=(1, b)).astype(np.int32)
    rewards = rng.normal(size=(1, b)).astype(np.float32)
    values = rng.normal(size=(1, b)).astype(np.float32)
    bootstrap = rng.normal(size=(b,)).astype(np.float32)
    discounts = np.full((1, b), 0.9, np.float32)
    w = tf.Variable(w0)
    with tf.GradientTape() as tape:
      logits = tf.matmul(x, w)[None]
      out = losses.impala_loss(
          distributions.Categorical(a), logits, behaviour_logits, actions, rewards,
          discounts, values, bootstrap, mask=np.ones((1, b), np.float32),
          correction=correction, reward_clipping='none', baseline_cost=0.0,
          entropy_cost=0.0)
    grad = tape.gradient(out.total_loss, w).numpy()

    pi = _softmax(x @ w0)
    mu = _softmax(behaviour_logits[0])
    idx = np.arange(b), actions[0]
    rho = pi[idx] / mu[idx]
    weight = {'vtrace': np.minimum(1.0, rho), 'one_step_is': np.minimum(1.0, rho),
              'no_correction': np.ones_like(rho)}[correction]
    advantage = weight * (rewards[0] + 0.9 * bootstrap - values[0])
    onehot = np.eye(a)[actions[0]]
    # ∇_W log π(a|x) = x ⊗ (onehot(a) − π(·|x)); the loss is −Σ A ∇ log π.
    expected = -np.einsum('b,bd,ba->da', advantage, x, onehot - pi)
    self.assertAllClose(expected, grad, rtol=1e-4, atol=1e-5)
    self.assertAllClose(advantage, out.pg_advantages[0], rtol=1e-5)

  def test_epsilon_correction_uses_log_pi_plus_epsilon(self):
    logits = np.array([[[0.0, 30.0]]], np.float32)  # π(a=0) ≈ 9e-14
    actions = np.zeros((1, 1), np.int32)
    kwargs = dict(rewards=np.ones((1, 1), np.float32),
                  discounts=np.zeros((1, 1), np.float32),
                  values=np.zeros((1, 1), np.float32),
                  bootstrap_value=np.zeros((1,), np.float32),
                  mask=np.ones((1, 1), np.float32), reward_clipping='none',
                  baseline_cost=0.0, entropy_cost=0.0)
    dist = distributions.Categorical(2)
    eps = losses.impala_loss(dist, logits, logits, actions, correction='epsilon_correction',
                             **kwargs)
    plain = losses.impala_loss(dist, logits, logits, actions, correction='no_correction',
                               **kwargs)
    pi = _softmax(logits[0, 0].astype(np.float64))[0]
    self.assertAllClose(-np.log(pi + 1e-6), eps.pg_loss, rtol=1e-4)
    self.assertAllClose(-np.log(pi), plain.pg_loss, rtol=1e-3)


class CorrectionModesTest(tf.test.TestCase, parameterized.TestCase):

  def _inputs(self, rng, t=8, b=3, a=4):
    logits = rng.normal(size=(t, b, a)).astype(np.float32)
    return dict(
        target_policy_params=logits,
        behaviour_policy_params=logits,
        actions=rng.integers(0, a, size=(t, b)).astype(np.int32),
        rewards=rng.normal(size=(t, b)).astype(np.float32) * 3,
        discounts=np.where(rng.uniform(size=(t, b)) < 0.2, 0.0, 0.95).astype(np.float32),
        values=rng.normal(size=(t, b)).astype(np.float32),
        bootstrap_value=rng.normal(size=(b,)).astype(np.float32),
        mask=np.ones((t, b), np.float32))

  def test_modes_agree_on_policy(self):
    rng = np.random.default_rng(1)
    inputs = self._inputs(rng)
    dist = distributions.Categorical(4)
    outs = {c: losses.impala_loss(dist, correction=c, **inputs) for c in losses.CORRECTIONS}
    # n-step discounted returns of the clipped rewards, by hand.
    r = np.clip(inputs['rewards'], -1, 1)
    ret = inputs['bootstrap_value']
    expected = []
    for s in reversed(range(8)):
      ret = r[s] + inputs['discounts'][s] * ret
      expected.append(ret)
    expected = np.stack(expected[::-1])
    for c, out in outs.items():
      self.assertAllClose(expected, out.vs, atol=1e-5, msg=c)
      self.assertAllClose(outs['vtrace'].pg_advantages, out.pg_advantages, atol=1e-5, msg=c)

  @parameterized.parameters((1.0,), (2.0,), (float('inf'),))
  def test_one_step_is_targets_ignore_rhos(self, clip):
    # The targets are the uncorrected n-step returns; only the advantage is
    # weighted, by min(ρ̄_pg, ρ_s) (the paper truncates it at 1).
    rng = np.random.default_rng(2)
    inputs = self._inputs(rng)
    inputs['behaviour_policy_params'] = rng.normal(size=(8, 3, 4)).astype(np.float32) * 3
    dist = distributions.Categorical(4)
    one_step = losses.impala_loss(dist, correction='one_step_is', clip_pg_rho_threshold=clip,
                                  **inputs)
    none = losses.impala_loss(dist, correction='no_correction', **inputs)
    rhos = np.exp(one_step.log_rhos.numpy())
    self.assertGreater(rhos.max(), 2.5)
    self.assertLess(rhos.min(), 0.5)
    self.assertAllClose(none.vs, one_step.vs)
    self.assertAllClose(np.minimum(clip, rhos) * none.pg_advantages.numpy(),
                        one_step.pg_advantages, rtol=1e-5, atol=1e-5)

  def test_mask_cuts_trace_and_bootstraps_truncation(self):
    # Step 1 is the reset step after a truncation at x_1: v_1 = V(x_1) and
    # v_0 = r_0 + γ V(x_1); nothing is learnt from step 1.
    gamma = 0.9
    values = np.array([[1.0], [2.0], [3.0]], np.float32)
    rewards = np.array([[0.5], [0.7], [0.2]], np.float32)
    logits = np.zeros((3, 1, 2), np.float32)
    out = losses.impala_loss(
        distributions.Categorical(2), logits, logits, np.zeros((3, 1), np.int32), rewards,
        np.full((3, 1), gamma, np.float32), values, np.array([4.0], np.float32),
        mask=np.array([[1.0], [0.0], [1.0]], np.float32), reward_clipping='none')
    self.assertAllClose([[0.5 + gamma * 2.0], [2.0], [0.2 + gamma * 4.0]], out.vs)
    self.assertAllClose(0.0, out.pg_advantages[1, 0])
    self.assertAllClose(-2 * np.log(2.0), out.entropy_loss, rtol=1e-6)


class PopArtLossTest(tf.test.TestCase):

  def test_targets_on_unnormalised_values_loss_and_advantages_normalised(self):
    rng = np.random.default_rng(4)
    t, b, a = 6, 3, 4
    logits = rng.normal(size=(t, b, a)).astype(np.float32)
    mu = np.array([100.0, -5.0, 0.0], np.float32)
    sigma = np.array([50.0, 2.0, 1.0], np.float32)
    normalized = rng.normal(size=(t, b)).astype(np.float32)
    bootstrap = rng.normal(size=(b,)).astype(np.float32)
    kwargs = dict(actions=rng.integers(0, a, size=(t, b)).astype(np.int32),
                  rewards=(rng.normal(size=(t, b)) * sigma).astype(np.float32),
                  discounts=np.full((t, b), 0.9, np.float32),
                  mask=np.ones((t, b), np.float32), reward_clipping='none')
    dist = distributions.Categorical(a)
    values = tf.Variable(normalized)
    with tf.GradientTape() as tape:
      art = losses.impala_loss(dist, logits, logits * 0.5, values=values,
                               bootstrap_value=bootstrap, popart=(mu, sigma), **kwargs)
    plain = losses.impala_loss(dist, logits, logits * 0.5, values=sigma * normalized + mu,
                               bootstrap_value=sigma * bootstrap + mu, **kwargs)
    self.assertAllClose(plain.vs, art.vs, rtol=1e-5, atol=1e-3)
    self.assertAllClose(sigma * normalized + mu, art.values, rtol=1e-6)
    self.assertAllClose(plain.pg_advantages / sigma, art.pg_advantages, rtol=1e-4, atol=1e-5)
    target = (plain.vs.numpy() - mu) / sigma
    self.assertAllClose(0.5 * np.sum((target - normalized) ** 2), art.baseline_loss, rtol=1e-4)
    # The baseline's gradient is in normalised units: n − (v − μ)/σ.
    grad = tape.gradient(art.baseline_loss, values)
    self.assertAllClose(normalized - target, grad, rtol=1e-4, atol=1e-5)


class LossTermsTest(tf.test.TestCase):

  def test_baseline_loss_value_and_gradient(self):
    vs = np.array([[1.0, 2.0], [0.0, -1.0]], np.float32)
    values = tf.Variable(np.array([[0.5, 2.5], [1.0, -1.0]], np.float32))
    mask = np.array([[1.0, 1.0], [0.0, 1.0]], np.float32)
    with tf.GradientTape() as tape:
      loss = losses.baseline_loss(vs, values, mask)
    self.assertAllClose(0.5 * (0.25 + 0.25), loss)
    self.assertAllClose([[-0.5, 0.5], [0.0, 0.0]], tape.gradient(loss, values))

  def test_total_combines_terms_with_coefficients(self):
    rng = np.random.default_rng(3)
    logits = rng.normal(size=(4, 2, 3)).astype(np.float32)
    kwargs = dict(actions=rng.integers(0, 3, size=(4, 2)).astype(np.int32),
                  rewards=rng.normal(size=(4, 2)).astype(np.float32),
                  discounts=np.full((4, 2), 0.99, np.float32),
                  values=rng.normal(size=(4, 2)).astype(np.float32),
                  bootstrap_value=rng.normal(size=(2,)).astype(np.float32),
                  mask=np.ones((4, 2), np.float32))
    out = losses.impala_loss(distributions.Categorical(3), logits, logits,
                             baseline_cost=0.25, entropy_cost=0.03, **kwargs)
    self.assertAllClose(out.pg_loss + 0.25 * out.baseline_loss + 0.03 * out.entropy_loss,
                        out.total_loss)
    p = _softmax(logits)
    self.assertAllClose(np.sum(p * np.log(p)), out.entropy_loss, rtol=1e-5)

  def test_unknown_correction(self):
    with self.assertRaisesRegex(ValueError, 'correction'):
      losses.compute_targets('retrace', *([np.zeros((1, 1), np.float32)] * 5),
                             np.zeros((1,), np.float32), np.ones((1, 1), np.float32))



class ClippedSurrogateTest(tf.test.TestCase):
  """PPO's clipped surrogate against hand-computed values, ε = 0.2."""

  def _loss_and_grad(self, ratios, advantages, mask):
    log_ratios = tf.Variable(np.log(np.asarray(ratios, np.float64))[None])
    with tf.GradientTape() as tape:
      loss, fraction = losses.clipped_surrogate_loss(
          log_ratios, tf.constant(np.asarray(advantages, np.float64)[None]),
          tf.constant(np.asarray(mask, np.float64)[None]), 0.2)
    return loss.numpy(), fraction.numpy(), tape.gradient(loss, log_ratios).numpy()[0]

  def test_each_branch_for_either_sign(self):
    # (r, A): the min picks ...
    cases = [
        (1.5, 2.0),    # A > 0, r > 1 + ε: the clipped 1.2·2 = 2.4; no gradient
        (0.5, 2.0),    # A > 0, r < 1 − ε: the unclipped 0.5·2 = 1.0; gradient −r·A = −1
        (1.1, 2.0),    # A > 0, inside: r·A = 2.2; gradient −2.2
        (1.5, -2.0),   # A < 0, r > 1 + ε: the unclipped 1.5·−2 = −3; gradient 3
        (0.5, -2.0),   # A < 0, r < 1 − ε: the clipped 0.8·−2 = −1.6; no gradient
        (0.9, -2.0),   # A < 0, inside: −1.8; gradient 1.8
    ]
    ratios, advantages = zip(*cases)
    loss, _, grad = self._loss_and_grad(ratios, advantages, [1.0] * 6)
    surrogates = [2.4, 1.0, 2.2, -3.0, -1.6, -1.8]
    self.assertAllClose(-sum(surrogates), loss)
    # d(−r·A)/d log r = −r·A where the unclipped term is the min, else 0.
    self.assertAllClose([0.0, -1.0, -2.2, 3.0, 0.0, 1.8], grad)

  def test_clipped_fraction_counts_real_transitions_outside_the_range(self):
    # |r − 1| > ε for 1.5, 0.5 and 0.7 (masked out); not for 1.1 or 0.81.
    _, fraction, _ = self._loss_and_grad([1.5, 0.5, 1.1, 0.81, 0.7], [1.0, -1.0, 1.0, 1.0, 1.0],
                                         [1.0, 1.0, 1.0, 1.0, 0.0])
    self.assertAllClose(2.0 / 4.0, fraction)

  def test_masked_steps_contribute_nothing(self):
    loss, _, grad = self._loss_and_grad([1.1, 30.0], [1.0, 1e6], [1.0, 0.0])
    self.assertAllClose(-1.1, loss)
    self.assertAllClose([-1.1, 0.0], grad)


class PPOLossTest(tf.test.TestCase):
  """`impala_loss` with ppo_clip=0.2 on two steps, every number by hand."""

  def test_two_steps_by_hand(self):
    # Behaviour μ = (0.5, 0.5) at both steps; action 0 both times. The
    # learner's π(0) = 0.75 at step 0 (ratio 1.5, above 1 + ε) and 0.45 at
    # step 1 (ratio 0.9, inside [0.8, 1.2]).
    target = tf.Variable(np.log([[[0.75, 0.25]], [[0.45, 0.55]]]), dtype=tf.float64)
    behaviour = tf.zeros([2, 1, 2], tf.float64)
    # r = (1, 0), γ = 0.9, V = (0.5, 2.0), V(x_2) = 1.0.
    args = dict(actions=tf.zeros([2, 1], tf.int32),
                rewards=tf.constant([[1.0], [0.0]], tf.float64),
                discounts=tf.constant([[0.9], [0.9]], tf.float64),
                values=tf.constant([[0.5], [2.0]], tf.float64),
                bootstrap_value=tf.constant([1.0], tf.float64),
                mask=tf.ones([2, 1], tf.float64))
    with tf.GradientTape() as tape:
      out = losses.impala_loss(distributions.Categorical(2), target, behaviour,
                               reward_clipping='none', baseline_cost=0.5, entropy_cost=0.0,
                               ppo_clip=0.2, **args)
    # V-trace (ρ̄ = c̄ = 1): ρ = (1, 0.9), c_0 = 1.
    #   δ_1 = 0.9 (0 + 0.9·1.0 − 2.0) = −0.99;  v_1 = 2.0 − 0.99 = 1.01
    #   δ_0 = 1 (1 + 0.9·2.0 − 0.5) = 2.3;      v_0 = 0.5 + 2.3 + 0.9·1·(−0.99) = 1.909
    self.assertAllClose([[1.909], [1.01]], out.vs)
    # PPO's advantage, r_s + γ v_{s+1} − V(x_s), no ρ factor, v_2 = V(x_2):
    #   A_0 = 1 + 0.9·1.01 − 0.5 = 1.409 (> 0);  A_1 = 0 + 0.9·1.0 − 2.0 = −1.1 (< 0)
    self.assertAllClose([[1.409], [-1.1]], out.pg_advantages)
    # Surrogate: step 0 clipped, min(1.5·1.409, 1.2·1.409) = 1.6908; step 1
    # unclipped, 0.9·(−1.1) = −0.99. The loss is minus their sum.
    self.assertAllClose(-(1.6908 - 0.99), out.pg_loss)
    self.assertAllClose(0.5, out.clipped_fraction)
    # Baseline: ½((1.909 − 0.5)² + (1.01 − 2.0)²).
    self.assertAllClose(0.5 * (1.409 ** 2 + 0.99 ** 2), out.baseline_loss)
    self.assertAllClose(out.pg_loss + 0.5 * out.baseline_loss, out.total_loss)
    # Only step 1 moves the policy: −A·r·(onehot − π) = 0.99·(0.55, −0.55).
    self.assertAllClose([[[0.0, 0.0]], [[0.5445, -0.5445]]],
                        tape.gradient(out.total_loss, target))


class NormalizeAdvantagesTest(tf.test.TestCase):

  def test_moments_over_real_transitions(self):
    advantages = np.array([[1.0, 2.0, 100.0], [3.0, 4.0, -50.0]])
    mask = np.array([[1.0, 1.0, 0.0], [1.0, 1.0, 0.0]])
    out = losses.normalize_advantages(tf.constant(advantages), tf.constant(mask)).numpy()
    real = np.array([1.0, 2.0, 3.0, 4.0])
    expected = (real - real.mean()) / (real.std() + 1e-8)
    self.assertAllClose([[expected[0], expected[1]], [expected[2], expected[3]]], out[:, :2])
    self.assertAllEqual([0.0, 0.0], out[:, 2])   # masked steps are 0

  def test_cross_replica_moments_equal_one_device(self):
    # Two replicas, each half of the batch. The fake all-reduce adds the
    # other replica's share of each sum, as a real one would: first the
    # count and Σ A, then Σ (A − global mean)².
    rng = np.random.default_rng(0)
    advantages = rng.normal(3.0, 2.0, size=(4, 6))
    mask = (rng.uniform(size=(4, 6)) > 0.2).astype(np.float64)
    whole = losses.normalize_advantages(tf.constant(advantages), tf.constant(mask)).numpy()
    halves = [(advantages[:, :3], mask[:, :3]), (advantages[:, 3:], mask[:, 3:])]
    mean = (mask * advantages).sum() / mask.sum()
    shares = [[np.array([m.sum(), (m * a).sum()]), (m * (a - mean) ** 2).sum()]
              for a, m in halves]
    parts = []
    for h, (a, m) in enumerate(halves):
      calls = iter(shares[1 - h])
      parts.append(losses.normalize_advantages(
          tf.constant(a), tf.constant(m),
          cross_replica_sum=lambda local: local + tf.constant(next(calls), local.dtype)
      ).numpy())
    self.assertAllClose(whole, np.concatenate(parts, axis=1))
    # Without the sum each half would use its own moments: different.
    alone = losses.normalize_advantages(tf.constant(halves[0][0]), tf.constant(halves[0][1]))
    self.assertNotAllClose(whole[:, :3], alone.numpy())

  def test_a_mean_that_dwarfs_the_spread_in_float32(self):
    # Advantages of about 3000 that differ by ±0.25: in float32, Σx²/n −
    # mean² loses every digit of the variance (0.0625 against 9e6, below
    # float32's resolution there), so the one-pass form gives a standard
    # deviation of 0 or noise; two passes give the numpy float64 answer.
    rng = np.random.default_rng(1)
    spread = rng.choice([-0.25, 0.25], size=(8, 16)) + rng.normal(0.0, 0.01, size=(8, 16))
    advantages = (3000.0 + spread).astype(np.float32)
    mask = np.ones((8, 16), np.float32)
    mask[-1, :5] = 0.0
    out = losses.normalize_advantages(tf.constant(advantages), tf.constant(mask)).numpy()
    real = advantages.astype(np.float64)[mask > 0]
    want = (advantages.astype(np.float64) - real.mean()) / (real.std() + 1e-8) * mask
    self.assertAllClose(want, out, atol=2e-3)
    self.assertAllClose(1.0, out[mask > 0].std(), atol=1e-3)

if __name__ == '__main__':
  tf.test.main()
