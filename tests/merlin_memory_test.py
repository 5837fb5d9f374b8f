"""MERLIN's memory and latent against slow numpy references written like the
maths (impala_tf/agents/merlin/memory.py, latent.py), eagerly and compiled."""

from absl.testing import parameterized
import numpy as np
import tensorflow as tf

from impala_tf.agents import latent
from impala_tf.agents.merlin import memory as memory_lib


def _np_read(memory, keys, strengths):
  """Per environment, head and row, as the paper writes it."""
  b, k, n = memory.shape[0], keys.shape[1], memory.shape[1]
  weights = np.zeros([b, k, n])
  for e in range(b):
    for i in range(k):
      scores = []
      for j in range(n):
        denominator = (np.linalg.norm(keys[e, i]) * np.linalg.norm(memory[e, j])
                       + memory_lib.COSINE_EPSILON)
        scores.append(strengths[e, i] * keys[e, i] @ memory[e, j] / denominator)
      scores = np.array(scores)
      weights[e, i] = np.exp(scores - scores.max()) / np.exp(scores - scores.max()).sum()
  return np.einsum('bkn,bnd->bkd', weights, memory), weights


def _np_write(memory, usage, retroactive, z, read_weights, gamma):
  memory, usage, retroactive = memory.copy(), usage.copy(), retroactive.copy()
  for e in range(memory.shape[0]):
    usage[e] += read_weights[e].sum(axis=0)
    row = int(np.argmin(usage[e]))            # the first of equal minima
    size = z.shape[1]
    memory[e, row, :size] += z[e]
    for j in range(memory.shape[1]):
      memory[e, j, size:] += retroactive[e, j] * z[e]
    usage[e, row] += 1.0
    one_hot = np.eye(memory.shape[1])[row]
    retroactive[e] = gamma * retroactive[e] + (1 - gamma) * one_hot
  return memory, usage, retroactive


def _np_kl(q_mean, q_log_std, p_mean, p_log_std):
  out = np.zeros(q_mean.shape[:-1])
  for d in range(q_mean.shape[-1]):
    sq, sp = np.exp(q_log_std[..., d]), np.exp(p_log_std[..., d])
    out += (np.log(sp / sq) + (sq ** 2 + (q_mean[..., d] - p_mean[..., d]) ** 2)
            / (2 * sp ** 2) - 0.5)
  return out


class MemoryTest(tf.test.TestCase, parameterized.TestCase):

  @parameterized.parameters(False, True)
  def test_read_matches_numpy(self, compiled):
    rng = np.random.default_rng(0)
    memory = rng.normal(size=(3, 7, 8)).astype(np.float32)
    memory[1, 2] = 0.0                        # an empty row: finite cosine
    keys = rng.normal(size=(3, 2, 8)).astype(np.float32)
    strengths = rng.uniform(0.5, 20.0, size=(3, 2)).astype(np.float32)
    fn = tf.function(memory_lib.read) if compiled else memory_lib.read
    vectors, weights = fn(memory, keys, strengths)
    want_vectors, want_weights = _np_read(memory, keys, strengths)
    self.assertAllClose(want_weights, weights, rtol=1e-4, atol=1e-6)
    self.assertAllClose(want_vectors, vectors, rtol=1e-4, atol=1e-5)
    self.assertAllClose(np.ones([3, 2]), tf.reduce_sum(weights, -1), rtol=1e-6)

  def test_a_strong_key_reads_the_row_it_matches(self):
    rng = np.random.default_rng(1)
    memory = rng.normal(size=(1, 5, 6)).astype(np.float32)
    keys = 3.0 * memory[:, 3:4]
    vectors, weights = memory_lib.read(memory, keys, np.array([[100.0]], np.float32))
    self.assertGreater(float(weights[0, 0, 3]), 0.999)
    self.assertAllClose(memory[0, 3], vectors[0, 0], atol=1e-3)

  @parameterized.parameters(False, True)
  def test_writes_match_numpy_over_an_episode(self, compiled):
    rng = np.random.default_rng(2)
    b, n, z_size, k, gamma = 2, 6, 3, 2, 0.7
    state = memory_lib.initial_state(b, n, z_size)
    ref = [np.zeros([b, n, 2 * z_size]), np.zeros([b, n]), np.zeros([b, n])]
    write = tf.function(memory_lib.write) if compiled else memory_lib.write
    for _ in range(10):   # more steps than rows: rows are reused
      keys = rng.normal(size=(b, k, 2 * z_size)).astype(np.float32)
      strengths = rng.uniform(1.0, 5.0, size=(b, k)).astype(np.float32)
      _, weights = memory_lib.read(state.memory, keys, strengths)
      z = rng.normal(size=(b, z_size)).astype(np.float32)
      state = write(state, z, weights, gamma)
      ref = _np_write(*ref, z, weights.numpy(), gamma)
      for got, want in zip(state, ref):
        self.assertAllClose(want, got, rtol=1e-4, atol=1e-5)

  def test_an_empty_memory_fills_in_order_and_writes_retroactively(self):
    gamma = 0.5
    state = memory_lib.initial_state(1, 4, 2)
    no_reads = np.zeros([1, 1, 4], np.float32)
    zs = [np.array([[1.0, 0.0]], np.float32), np.array([[0.0, 2.0]], np.float32),
          np.array([[4.0, 4.0]], np.float32)]
    for z in zs:
      state = memory_lib.write(state, z, no_reads, gamma)
    m = state.memory.numpy()[0]
    # Rows 0, 1, 2 hold z_0, z_1, z_2 in their first halves; row 3 is empty.
    self.assertAllClose([[1, 0], [0, 2], [4, 4], [0, 0]], m[:, :2])
    # Row 0's second half: (1 − γ) z_1 + γ(1 − γ) z_2; row 1's: (1 − γ) z_2.
    self.assertAllClose([0.5 * 0 + 0.25 * 4, 0.5 * 2 + 0.25 * 4], m[0, 2:])
    self.assertAllClose([0.5 * 4, 0.5 * 4], m[1, 2:])
    self.assertAllClose([0.0, 0.0], m[2, 2:])
    self.assertAllClose([1, 1, 1, 0], state.usage.numpy()[0])

  def test_the_least_used_row_is_overwritten(self):
    state = memory_lib.initial_state(1, 3, 1)
    no_reads = np.zeros([1, 1, 3], np.float32)
    for value in (1.0, 2.0, 3.0):
      state = memory_lib.write(state, [[value]], no_reads, 0.0)
    # Row 1 is read heavily, row 0 a little, row 2 not at all.
    reads = np.array([[[0.2, 0.8, 0.0], [0.0, 1.0, 0.0]]], np.float32)
    state = memory_lib.write(state, [[9.0]], reads, 0.0)
    self.assertAllClose([1.0, 2.0, 12.0], state.memory.numpy()[0, :, 0])

  def test_reset_empties_only_the_environments_that_start(self):
    state = memory_lib.initial_state(2, 3, 1)
    state = memory_lib.write(state, [[1.0], [2.0]], np.zeros([2, 1, 3], np.float32), 0.5)
    state = memory_lib.reset(state, np.array([True, False]))
    self.assertAllEqual(np.zeros([3, 2]), state.memory[0])
    self.assertAllEqual(np.zeros(3), state.usage[0])
    self.assertAllEqual(np.zeros(3), state.retroactive[0])
    self.assertAllClose([2.0, 0.0], state.memory[1, 0])
    self.assertAllClose([1.0, 0.0, 0.0], state.usage[1])

  def test_gradients_reach_the_keys_strengths_and_the_written_latent(self):
    rng = np.random.default_rng(3)
    state = memory_lib.initial_state(2, 4, 3)
    z0 = tf.Variable(rng.normal(size=(2, 3)).astype(np.float32))
    keys = tf.Variable(rng.normal(size=(2, 2, 6)).astype(np.float32))
    strengths = tf.Variable(np.full((2, 2), 2.0, np.float32))
    with tf.GradientTape() as tape:
      written = memory_lib.write(state, z0, tf.zeros([2, 1, 4]), 0.9)
      vectors, _ = memory_lib.read(written.memory, keys, strengths)
      loss = tf.reduce_sum(tf.square(vectors))
    grads = tape.gradient(loss, [z0, keys, strengths])
    for g in grads:
      self.assertIsNotNone(g)
      self.assertGreater(float(tf.reduce_sum(tf.abs(g))), 0.0)


class LatentTest(tf.test.TestCase, parameterized.TestCase):

  @parameterized.parameters(False, True)
  def test_kl_matches_numpy(self, compiled):
    rng = np.random.default_rng(4)
    args = [rng.normal(size=(5, 4)).astype(np.float32) for _ in range(4)]
    args[1] *= 0.5
    args[3] *= 0.5
    fn = tf.function(latent.kl_divergence) if compiled else latent.kl_divergence
    self.assertAllClose(_np_kl(*args), fn(*args), rtol=1e-5, atol=1e-5)
    # Zero for equal distributions.
    self.assertAllClose(np.zeros(5), latent.kl_divergence(args[0], args[1], args[0], args[1]),
                        atol=1e-6)

  def test_kl_matches_a_monte_carlo_estimate(self):
    rng = np.random.default_rng(5)
    q_mean, q_log_std = np.array([0.3, -1.0], np.float32), np.array([-0.2, 0.1], np.float32)
    p_mean, p_log_std = np.array([0.0, 0.5], np.float32), np.array([0.3, -0.1], np.float32)
    noise = rng.normal(size=(200_000, 2)).astype(np.float32)
    x = latent.sample(q_mean, q_log_std, noise)
    estimate = np.mean(latent.log_density(x, q_mean, q_log_std)
                       - latent.log_density(x, p_mean, p_log_std))
    self.assertAllClose(latent.kl_divergence(q_mean, q_log_std, p_mean, p_log_std), estimate,
                        atol=0.01)


if __name__ == '__main__':
  tf.test.main()
