"""V-trace against a numpy ground truth written from the paper's Eq. (1)."""

from absl.testing import parameterized
import numpy as np
import tensorflow as tf

from impala_tf import vtrace


def _truncate(x, threshold):
  return x if threshold is None else np.minimum(threshold, x)


def ground_truth(log_rhos, discounts, rewards, values, bootstrap_value,
                 clip_rho_threshold, clip_pg_rho_threshold, clip_c_threshold, lambda_=1.0):
  """The n-step definition, paper Eq. (1), with per-step discounts γ_i:

    v_s = V(x_s) + Σ_{t=s}^{T−1} (Π_{i=s}^{t−1} γ_i λ c_i) δ_t,
    δ_t = ρ_t (r_t + γ_t V(x_{t+1}) − V(x_t)),  V(x_T) = bootstrap.

  Written as explicit sums of products, not as the backward recursion.
  """
  rhos = np.exp(log_rhos)
  rho_bar = _truncate(rhos, clip_rho_threshold)
  cs = _truncate(rhos, clip_c_threshold)
  pg_rhos = _truncate(rhos, clip_pg_rho_threshold)
  values_ext = np.concatenate([values, bootstrap_value[None]], axis=0)
  big_t = log_rhos.shape[0]
  vs = np.zeros_like(values)
  for s in range(big_t):
    total = values[s].copy()
    for t in range(s, big_t):
      weight = np.ones_like(values[s])
      for i in range(s, t):
        weight = weight * discounts[i] * lambda_ * cs[i]
      delta = rho_bar[t] * (rewards[t] + discounts[t] * values_ext[t + 1] - values_ext[t])
      total = total + weight * delta
    vs[s] = total
  vs_ext = np.concatenate([vs, bootstrap_value[None]], axis=0)
  pg_advantages = np.stack([
      pg_rhos[s] * (rewards[s] + discounts[s] * vs_ext[s + 1] - values[s])
      for s in range(big_t)
  ])
  return vs, pg_advantages


def _random_inputs(rng, t, b, extra=(), episode_ends=True, log_rho_scale=2.0):
  shape = (t, b) + extra
  log_rhos = rng.uniform(-log_rho_scale, log_rho_scale, shape)  # ρ in [e^-s, e^s]
  discounts = np.full(shape, 0.9)
  if episode_ends:
    discounts = np.where(rng.uniform(size=shape) < 0.2, 0.0, discounts)
  return dict(
      log_rhos=log_rhos.astype(np.float32),
      discounts=discounts.astype(np.float32),
      rewards=rng.normal(size=shape).astype(np.float32),
      values=rng.normal(size=shape).astype(np.float32),
      bootstrap_value=rng.normal(size=(b,) + extra).astype(np.float32))


class FromImportanceWeightsTest(tf.test.TestCase, parameterized.TestCase):

  @parameterized.named_parameters(
      ('t1_b1', 1, 1, 1.0, 1.0, 1.0),
      ('t1_b4', 1, 4, 1.0, 1.0, 1.0),
      ('t5_b1', 5, 1, 1.0, 1.0, 1.0),
      ('t7_b3_paper', 7, 3, 1.0, 1.0, 1.0),
      ('t20_b8_separate_cbar', 20, 8, 2.0, 1.5, 0.5),
      ('t6_b2_no_truncation', 6, 2, None, None, None),
      ('t9_b5_tight', 9, 5, 0.3, 0.7, 0.1),
  )
  def test_matches_ground_truth(self, t, b, rho_bar, pg_rho_bar, c_bar):
    rng = np.random.default_rng(t * 100 + b)
    inputs = _random_inputs(rng, t, b)
    thresholds = dict(clip_rho_threshold=rho_bar, clip_pg_rho_threshold=pg_rho_bar,
                      clip_c_threshold=c_bar)
    expected_vs, expected_pg = ground_truth(**inputs, **thresholds)
    output = vtrace.from_importance_weights(**inputs, **thresholds)
    self.assertAllClose(expected_vs, output.vs, rtol=1e-5, atol=1e-5)
    self.assertAllClose(expected_pg, output.pg_advantages, rtol=1e-5, atol=1e-5)

  def test_ratios_far_from_one(self):
    rng = np.random.default_rng(3)
    inputs = _random_inputs(rng, 10, 4, log_rho_scale=8.0)  # ρ in [3e-4, 3e3]
    self.assertGreater(np.exp(inputs['log_rhos']).max(), 100.0)
    self.assertLess(np.exp(inputs['log_rhos']).min(), 0.01)
    for thresholds in [(1.0, 1.0, 1.0), (None, None, None), (5.0, 2.0, 1.0)]:
      kwargs = dict(zip(
          ['clip_rho_threshold', 'clip_pg_rho_threshold', 'clip_c_threshold'], thresholds))
      expected_vs, expected_pg = ground_truth(**inputs, **kwargs)
      output = vtrace.from_importance_weights(**inputs, **kwargs)
      self.assertAllClose(expected_vs, output.vs, rtol=1e-4, atol=1e-4)
      self.assertAllClose(expected_pg, output.pg_advantages, rtol=1e-4, atol=1e-4)

  def test_extra_trailing_dimensions(self):
    rng = np.random.default_rng(4)
    inputs = _random_inputs(rng, 6, 3, extra=(2,))
    expected_vs, expected_pg = ground_truth(**inputs, clip_rho_threshold=1.0,
                                            clip_pg_rho_threshold=1.0, clip_c_threshold=1.0)
    output = vtrace.from_importance_weights(**inputs)
    self.assertAllClose(expected_vs, output.vs, atol=1e-5)
    self.assertAllClose(expected_pg, output.pg_advantages, atol=1e-5)

  def test_on_policy_without_truncation_is_n_step_return(self):
    # ρ = c = 1: v_s is the discounted n-step return bootstrapped at T.
    rng = np.random.default_rng(5)
    inputs = _random_inputs(rng, 5, 2)
    inputs['log_rhos'] = np.zeros_like(inputs['log_rhos'])
    output = vtrace.from_importance_weights(**inputs)
    ret = inputs['bootstrap_value']
    returns = []
    for s in reversed(range(5)):
      ret = inputs['rewards'][s] + inputs['discounts'][s] * ret
      returns.append(ret)
    self.assertAllClose(np.stack(returns[::-1]), output.vs, atol=1e-5)

  @parameterized.parameters(0.0, 0.5, 0.95)
  def test_lambda_matches_ground_truth(self, lambda_):
    rng = np.random.default_rng(12)
    inputs = _random_inputs(rng, 9, 4)
    thresholds = dict(clip_rho_threshold=1.0, clip_pg_rho_threshold=1.0, clip_c_threshold=1.0)
    expected_vs, expected_pg = ground_truth(**inputs, **thresholds, lambda_=lambda_)
    output = vtrace.from_importance_weights(**inputs, **thresholds, lambda_=lambda_)
    self.assertAllClose(expected_vs, output.vs, rtol=1e-5, atol=1e-5)
    self.assertAllClose(expected_pg, output.pg_advantages, rtol=1e-5, atol=1e-5)

  def test_on_policy_lambda_is_the_lambda_return(self):
    # ρ = 1: v_s − V(x_s) is GAE(λ)'s advantage, the λ-return minus V.
    rng = np.random.default_rng(13)
    inputs = _random_inputs(rng, 7, 3)
    inputs['log_rhos'] = np.zeros_like(inputs['log_rhos'])
    lam = 0.9
    output = vtrace.from_importance_weights(**inputs, lambda_=lam)
    values_ext = np.concatenate([inputs['values'], inputs['bootstrap_value'][None]])
    gae, advantages = np.zeros(3), []
    for s in reversed(range(7)):
      delta = (inputs['rewards'][s] + inputs['discounts'][s] * values_ext[s + 1]
               - values_ext[s])
      gae = delta + inputs['discounts'][s] * lam * gae
      advantages.append(gae)
    self.assertAllClose(np.stack(advantages[::-1]) + inputs['values'], output.vs, atol=1e-5)

  def test_eager_function_and_xla_agree(self):
    rng = np.random.default_rng(6)
    inputs = _random_inputs(rng, 12, 5)
    kwargs = dict(clip_rho_threshold=1.5, clip_pg_rho_threshold=1.0, clip_c_threshold=0.8)
    eager = vtrace.from_importance_weights(**inputs, **kwargs)
    graph = tf.function(lambda i: vtrace.from_importance_weights(**i, **kwargs))(inputs)
    xla = tf.function(lambda i: vtrace.from_importance_weights(**i, **kwargs),
                      jit_compile=True)(inputs)
    for other in (graph, xla):
      self.assertAllClose(eager.vs, other.vs, rtol=1e-6, atol=1e-6)
      self.assertAllClose(eager.pg_advantages, other.pg_advantages, rtol=1e-6, atol=1e-6)

  def test_outputs_carry_no_gradient(self):
    rng = np.random.default_rng(7)
    inputs = {k: tf.Variable(v) for k, v in _random_inputs(rng, 4, 2).items()}
    with tf.GradientTape() as tape:
      output = vtrace.from_importance_weights(**inputs)
      total = tf.reduce_sum(output.vs) + tf.reduce_sum(output.pg_advantages)
    for grad in tape.gradient(total, list(inputs.values())):
      self.assertIsNone(grad)

  def test_float64(self):
    rng = np.random.default_rng(8)
    inputs = {k: v.astype(np.float64) for k, v in _random_inputs(rng, 4, 3).items()}
    output = vtrace.from_importance_weights(**inputs)
    self.assertEqual(output.vs.dtype, tf.float64)

  def test_rank_error(self):
    rng = np.random.default_rng(9)
    inputs = _random_inputs(rng, 4, 3)
    inputs['rewards'] = inputs['rewards'][0]
    with self.assertRaisesRegex(ValueError, 'rewards'):
      vtrace.from_importance_weights(**inputs)

  def test_bootstrap_shape_error(self):
    rng = np.random.default_rng(10)
    inputs = _random_inputs(rng, 4, 3)
    inputs['bootstrap_value'] = np.zeros([4], np.float32)
    with self.assertRaisesRegex(ValueError, 'bootstrap_value'):
      vtrace.from_importance_weights(**inputs)

  def test_dtype_errors(self):
    rng = np.random.default_rng(11)
    inputs = _random_inputs(rng, 4, 3)
    inputs['discounts'] = inputs['discounts'].astype(np.float64)
    with self.assertRaisesRegex(TypeError, 'discounts'):
      vtrace.from_importance_weights(**inputs)
    inputs = _random_inputs(rng, 4, 3)
    inputs['rewards'] = np.zeros([4, 3], np.int32)
    with self.assertRaisesRegex(TypeError, 'rewards'):
      vtrace.from_importance_weights(**inputs)


class FromLogitsTest(tf.test.TestCase, parameterized.TestCase):

  @parameterized.parameters((1, 2), (5, 3), (11, 1))
  def test_from_logits(self, t, b):
    rng = np.random.default_rng(t + b)
    num_actions = 4
    behaviour_logits = rng.normal(size=(t, b, num_actions)).astype(np.float32) * 2
    target_logits = rng.normal(size=(t, b, num_actions)).astype(np.float32) * 2
    actions = rng.integers(0, num_actions, size=(t, b)).astype(np.int32)
    other = _random_inputs(rng, t, b)
    del other['log_rhos']

    def log_softmax(x):
      x = x - x.max(-1, keepdims=True)
      return x - np.log(np.exp(x).sum(-1, keepdims=True))

    def pick(logp):
      return np.take_along_axis(logp, actions[..., None], -1)[..., 0]

    target_lp = pick(log_softmax(target_logits))
    behaviour_lp = pick(log_softmax(behaviour_logits))
    expected_vs, expected_pg = ground_truth(
        target_lp - behaviour_lp, other['discounts'], other['rewards'], other['values'],
        other['bootstrap_value'], 1.0, 1.0, 1.0)
    output = vtrace.from_logits(behaviour_logits, target_logits, actions, **other)
    self.assertAllClose(target_lp, output.target_action_log_probs, atol=1e-5)
    self.assertAllClose(behaviour_lp, output.behaviour_action_log_probs, atol=1e-5)
    self.assertAllClose(target_lp - behaviour_lp, output.log_rhos, atol=1e-5)
    self.assertAllClose(expected_vs, output.vs, atol=1e-5)
    self.assertAllClose(expected_pg, output.pg_advantages, atol=1e-5)

  def test_logits_rank_error(self):
    with self.assertRaisesRegex(ValueError, 'target_policy_logits'):
      vtrace.from_logits(
          np.zeros([3, 2, 4], np.float32), np.zeros([3, 4], np.float32),
          np.zeros([3, 2], np.int32), np.ones([3, 2], np.float32),
          np.zeros([3, 2], np.float32), np.zeros([3, 2], np.float32),
          np.zeros([2], np.float32))

  def test_float_actions_rejected(self):
    with self.assertRaisesRegex(TypeError, 'actions'):
      vtrace.from_logits(
          np.zeros([3, 2, 4], np.float32), np.zeros([3, 2, 4], np.float32),
          np.zeros([3, 2], np.float32), np.ones([3, 2], np.float32),
          np.zeros([3, 2], np.float32), np.zeros([3, 2], np.float32),
          np.zeros([2], np.float32))


if __name__ == '__main__':
  tf.test.main()
