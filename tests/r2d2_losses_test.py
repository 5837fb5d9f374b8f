"""R2D2's maths against an independent numpy reference, written like the paper."""

from absl.testing import parameterized
import numpy as np
import tensorflow as tf

from impala_tf.agents.r2d2 import actor_priorities
from impala_tf.agents.r2d2 import losses


def _h(x, eps):
  return np.sign(x) * (np.sqrt(np.abs(x) + 1) - 1) + eps * x


def _h_inv_by_bisection(y, eps):
  """h⁻¹ without the closed form: h is strictly increasing, so bisect."""
  out = np.empty_like(y, dtype=np.float64)
  for i, target in np.ndenumerate(y):
    lo, hi = -1e7, 1e7
    for _ in range(200):
      mid = (lo + hi) / 2
      if _h(mid, eps) < target:
        lo = mid
      else:
        hi = mid
    out[i] = (lo + hi) / 2
  return out


def _trained_reference(mask, discounts, n):
  """Trained: real, with s_{t+n} real (inside the sequence) or a real
  terminal step on the way, inside the sequence."""
  t_len, b_len = mask.shape
  m = np.zeros((t_len, b_len))
  for b in range(b_len):
    for t in range(t_len):
      ends = any(t + k < t_len and discounts[t + k, b] == 0 and mask[t + k, b]
                 for k in range(n))
      bootstrap_real = t + n < t_len and mask[t + n, b]
      m[t, b] = float(mask[t, b] and (bootstrap_real or ends))
  return m


def _reference(q_online, q_target, actions, rewards, discounts, mask, n, eps, eta,
               weights=None, reduction='sum_over_time'):
  """Loops over t and b, as the target's definition reads. The loss sums each
  sequence's terms over time and averages over sequences (Acme, seed_rl), or
  with reduction='mean' averages over the trained steps."""
  t_len, b_len, _ = q_online.shape
  td = np.zeros((t_len, b_len))
  for b in range(b_len):
    for t in range(t_len):
      ret, scale = 0.0, 1.0
      for k in range(n):
        if t + k >= t_len:       # past the sequence: nothing more counts
          scale = 0.0
          break
        ret += scale * rewards[t + k, b]
        scale *= discounts[t + k, b]
      bootstrap = 0.0
      if t + n < t_len:
        a_star = np.argmax(q_online[t + n, b])
        bootstrap = _h_inv_by_bisection(np.array(q_target[t + n, b, a_star]), eps)
      y = _h(ret + scale * bootstrap, eps)
      td[t, b] = y - q_online[t, b, actions[t, b]]
  m = _trained_reference(mask, discounts, n)
  w = np.ones(b_len) if weights is None else weights
  per_sequence = [sum(0.5 * td[t, b] ** 2 * m[t, b] * w[b] for t in range(t_len))
                  for b in range(b_len)]
  loss = np.mean(per_sequence) if reduction == 'sum_over_time' else (
      np.sum(per_sequence) / np.sum(m))
  priorities = np.array([
      eta * np.max(np.abs(td[:, b]) * m[:, b]) + (1 - eta) * np.sum(np.abs(td[:, b]) * m[:, b])
      / np.sum(m[:, b]) for b in range(b_len)])
  return loss, td, priorities


def _episode_batch(rng, t_len=12, b_len=4, a_len=4, gamma=0.997):
  """Sequences where an episode ends part-way (then padding), one at the end,
  one is cut by a time limit (padding after a step still discounted by γ)."""
  q_online = rng.normal(size=(t_len, b_len, a_len)) * 3
  q_target = rng.normal(size=(t_len, b_len, a_len)) * 3
  actions = rng.integers(0, a_len, (t_len, b_len))
  rewards = rng.normal(size=(t_len, b_len)) * 5
  discounts = np.full((t_len, b_len), gamma)
  mask = np.ones((t_len, b_len))
  # Sequence 1's episode ends at step 6: γ = 0 there, padding (reward 0,
  # mask 0) after it.
  discounts[6, 1] = 0.0
  rewards[7:, 1] = 0.0
  mask[7:, 1] = 0.0
  # Sequence 2's ends at its very last step.
  discounts[-1, 2] = 0.0
  # Sequence 3's is cut by a time limit at step 8: γ there, padding after.
  rewards[9:, 3] = 0.0
  discounts[9:, 3] = 0.0
  mask[9:, 3] = 0.0
  return q_online, q_target, actions, rewards, discounts, mask


class ValueRescaleTest(tf.test.TestCase):

  def test_h_and_its_inverse(self):
    x = np.concatenate([-np.logspace(-4, 5, 50), [0.0], np.logspace(-4, 5, 50)])
    h = losses.value_rescale(tf.constant(x, tf.float64)).numpy()
    self.assertAllClose(h, _h(x, 1e-3), rtol=1e-12)
    # h(h⁻¹(y)) = y and h⁻¹(h(x)) = x.
    self.assertAllClose(losses.value_rescale(losses.inverse_value_rescale(
        tf.constant(x, tf.float64))), x, rtol=1e-9, atol=1e-9)
    self.assertAllClose(losses.inverse_value_rescale(tf.constant(h)), x, rtol=1e-9, atol=1e-9)
    # Against an inverse found without the closed form.
    y = np.array([-40.0, -1.5, 0.0, 0.3, 7.0, 250.0])
    self.assertAllClose(losses.inverse_value_rescale(tf.constant(y, tf.float64)),
                        _h_inv_by_bisection(y, 1e-3), rtol=1e-6, atol=1e-6)

  def test_float32_round_trip(self):
    x = tf.constant(np.linspace(-500, 500, 101), tf.float32)
    self.assertAllClose(losses.value_rescale(losses.inverse_value_rescale(x)), x,
                        rtol=1e-5, atol=1e-4)


class LossTest(tf.test.TestCase, parameterized.TestCase):

  @parameterized.named_parameters(('n5', 5), ('n1', 1), ('n3_weights', 3, True),
                                  ('n5_mean', 5, False, 'mean'),
                                  ('n3_weights_mean', 3, True, 'mean'))
  def test_against_reference(self, n, weighted=False, reduction='sum_over_time'):
    rng = np.random.default_rng(n)
    q_online, q_target, actions, rewards, discounts, mask = _episode_batch(rng)
    weights = rng.uniform(0.2, 1.0, q_online.shape[1]) if weighted else None
    ref_loss, ref_td, ref_p = _reference(q_online, q_target, actions, rewards, discounts,
                                         mask, n, 1e-3, 0.9, weights, reduction)
    args = [tf.constant(q_online, tf.float32), tf.constant(q_target, tf.float32),
            tf.constant(actions, tf.int32), tf.constant(rewards, tf.float32),
            tf.constant(discounts, tf.float32), tf.constant(mask, tf.float32)]
    kwargs = dict(n=n, importance_weights=None if weights is None else
                  tf.constant(weights, tf.float32), reduction=reduction)
    for fn in (losses.r2d2_loss, tf.function(losses.r2d2_loss)):
      out = fn(*args, **kwargs)
      self.assertAllClose(out.td_errors, ref_td, rtol=1e-4, atol=1e-4)
      self.assertAllClose(out.loss, ref_loss, rtol=1e-4)
      self.assertAllClose(out.priorities, ref_p, rtol=1e-4)

  def test_a_time_limit_leaves_the_last_n_steps_untrained(self):
    # Real steps 0-8 of 12, no terminal: step t needs s_{t+n}, n = 3, so
    # steps 6-8 have no target; an episode that ends at step 8 trains them.
    mask = np.zeros((12, 2), np.float32)
    mask[:9] = 1.0
    discounts = np.where(mask > 0, 0.99, 0.0).astype(np.float32)
    discounts[8, 1] = 0.0
    trained = losses.trained_mask(mask, discounts, 3).numpy()
    self.assertEqual(trained[:, 0].tolist(), [1.0] * 6 + [0.0] * 6)
    self.assertEqual(trained[:, 1].tolist(), [1.0] * 9 + [0.0] * 3)

  def test_an_episode_ending_in_the_last_n_steps_trains_its_final_steps(self):
    # Episodes that end at the sequence's last steps (the 25 % of
    # episodes): their final steps are trained here, with the reward of the
    # terminal step and no bootstrap, not left as bootstraps.
    t_len, n = 10, 3
    mask = np.ones((t_len, 2), np.float32)
    discounts = np.full((t_len, 2), 0.99, np.float32)
    discounts[-1, 0] = 0.0                       # ends at the last step
    mask[9:, 1], discounts[8, 1] = 0.0, 0.0      # ends one step before it
    trained = losses.trained_mask(mask, discounts, n).numpy()
    self.assertEqual(trained[:, 0].tolist(), [1.0] * 10)
    self.assertEqual(trained[:, 1].tolist(), [1.0] * 9 + [0.0])
    q = np.zeros((t_len, 2, 2), np.float32)
    rewards = np.zeros((t_len, 2), np.float32)
    rewards[-1, 0] = 1.0
    targets = losses.n_step_double_q_targets(q, q, rewards, discounts, n).numpy()
    self.assertAllClose(losses.value_rescale(np.float32(1.0)), targets[-1, 0])
    self.assertAllClose(losses.value_rescale(np.float32(0.99 ** 2)), targets[-3, 0])

  def test_episode_end_cuts_the_return(self):
    # A terminal step: no reward or bootstrap from beyond it reaches the target.
    t_len, n = 8, 5
    q = np.zeros((t_len, 1, 2), np.float32)
    q_target = np.full((t_len, 1, 2), 100.0, np.float32)
    rewards = np.zeros((t_len, 1), np.float32)
    rewards[1] = 1.0
    rewards[2:] = 50.0   # after the end: must not count
    discounts = np.full((t_len, 1), 0.9, np.float32)
    discounts[1] = 0.0   # the episode ends at step 1
    targets = losses.n_step_double_q_targets(q, q_target, rewards, discounts, n).numpy()
    # y_0 = h(r_0 + 0.9 r_1) = h(0.9); y_1 = h(1).
    self.assertAllClose(targets[0, 0], _h(0.9, 1e-3), rtol=1e-6)
    self.assertAllClose(targets[1, 0], _h(1.0, 1e-3), rtol=1e-6)

  def test_double_q_picks_with_online_values_with_target(self):
    q_online = np.zeros((2, 1, 3), np.float32)
    q_online[1, 0] = [0.0, 5.0, 1.0]            # online prefers action 1
    q_target = np.zeros((2, 1, 3), np.float32)
    q_target[1, 0] = [9.0, 2.0, 7.0]            # the target's own max is action 0
    targets = losses.n_step_double_q_targets(
        q_online, q_target, np.zeros((2, 1), np.float32), np.ones((2, 1), np.float32), 1)
    self.assertAllClose(targets[0, 0], 2.0, rtol=1e-5)  # h(h⁻¹(2)) = 2, in float32

  def test_gradient_only_through_taken_online_values(self):
    rng = np.random.default_rng(0)
    q_online, q_target, actions, rewards, discounts, mask = _episode_batch(rng)
    q_online = tf.Variable(q_online, dtype=tf.float32)
    q_target = tf.Variable(q_target, dtype=tf.float32)
    with tf.GradientTape() as tape:
      out = losses.r2d2_loss(q_online, q_target, tf.constant(actions, tf.int32),
                             tf.constant(rewards, tf.float32),
                             tf.constant(discounts, tf.float32), tf.constant(mask, tf.float32))
    g_online, g_target = tape.gradient(out.loss, [q_online, q_target])
    self.assertIsNone(g_target)
    g = g_online.numpy()
    n = 5
    trained = _trained_reference(mask, discounts, n)
    taken = np.zeros_like(g, bool)
    for t in range(g.shape[0]):
      for b in range(g.shape[1]):
        taken[t, b, actions[t, b]] = trained[t, b] > 0
    self.assertAllEqual(g[~taken], np.zeros(np.sum(~taken)))
    self.assertTrue(np.all(g[taken] != 0))

  def test_the_two_reductions_differ_by_the_trained_steps_per_sequence(self):
    # Summed over time and averaged over sequences, the loss (and so its
    # gradient) is Σm / B times the mean over trained steps: about T − n.
    rng = np.random.default_rng(7)
    q_online, q_target, actions, rewards, discounts, mask = (
        tf.constant(x, tf.float32) for x in _episode_batch(rng))
    actions = tf.cast(actions, tf.int32)
    out = {r: losses.r2d2_loss(q_online, q_target, actions, rewards, discounts, mask,
                               reduction=r).loss.numpy()
           for r in losses.REDUCTIONS}
    trained = losses.trained_mask(mask, discounts, 5).numpy()
    self.assertAllClose(out['sum_over_time'] / out['mean'],
                        trained.sum() / trained.shape[1], rtol=1e-5)
    with self.assertRaisesRegex(ValueError, "reduction must be one of.*'total'"):
      losses.r2d2_loss(q_online, q_target, actions, rewards, discounts, mask,
                       reduction='total')

  def test_bad_shapes_are_refused(self):
    with self.assertRaisesRegex(ValueError, 'n must be'):
      losses.r2d2_loss(tf.zeros([4, 1, 2]), tf.zeros([4, 1, 2]), tf.zeros([4, 1], tf.int32),
                       tf.zeros([4, 1]), tf.zeros([4, 1]), tf.ones([4, 1]), n=4)
    with self.assertRaisesRegex(ValueError, 'rewards must be'):
      losses.r2d2_loss(tf.zeros([8, 1, 2]), tf.zeros([8, 1, 2]), tf.zeros([8, 1], tf.int32),
                       tf.zeros([8]), tf.zeros([8, 1]), tf.ones([8, 1]))


class ActorPriorityTest(tf.test.TestCase, parameterized.TestCase):
  """The priority an actor gives a new sequence: the learner's formula on the
  actor's own Q values (one network: it picks and values the bootstrap)."""

  @parameterized.named_parameters(('n5', 5), ('n1', 1), ('n3', 3))
  def test_equals_the_reference_with_one_network_after_burn_in(self, n):
    rng = np.random.default_rng(10 + n)
    q, _, actions, rewards, discounts, mask = _episode_batch(rng)
    _, _, want = _reference(q, q, actions, rewards, discounts, mask, n, 1e-3, 0.9)
    burn_in = 3
    lead = lambda x: np.concatenate([rng.normal(size=(burn_in,) + x.shape[1:]) * 9, x])
    for b in range(q.shape[1]):
      got = actor_priorities.sequence_priority(
          lead(q[:, b]).astype(np.float32), np.concatenate([[0, 1, 2], actions[:, b]]),
          lead(rewards[:, b]), np.concatenate([[0.0, 0.5, 1.0], discounts[:, b]]),
          np.concatenate([[1.0, 0.0, 1.0], mask[:, b]]), burn_in=burn_in, n=n)
      self.assertAllClose(got, want[b], rtol=1e-5)

  def test_no_trained_step_gives_zero_and_a_short_sequence_is_refused(self):
    # Real steps 0-2 of 8, cut by a time limit: none has its s_{t+3}.
    mask = np.array([1, 1, 1, 0, 0, 0, 0, 0], np.float32)
    args = (np.ones((8, 2)), np.zeros(8, int), mask, np.where(mask > 0, 0.9, 0.0), mask)
    self.assertEqual(actor_priorities.sequence_priority(*args, burn_in=0, n=3), 0.0)
    with self.assertRaisesRegex(ValueError, 'n must be in'):
      actor_priorities.sequence_priority(*args, burn_in=4, n=4)


if __name__ == '__main__':
  tf.test.main()
