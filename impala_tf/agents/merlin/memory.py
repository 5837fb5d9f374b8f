"""MERLIN's memory (Wayne et al. 2018, Methods, "Memory"), as pure functions.

One memory per environment: a matrix of N rows of 2|z| numbers, a usage per
row, and the retroactive write weighting. Shapes, for a batch of B
environments, K read heads and latents of size Z:

  memory       [B, N, 2Z]  row j: [z written at j, later z's retroactively]
  usage        [B, N]      how much each row has been used
  retroactive  [B, N]      v_ret, a decaying trace of past write weightings

Reading (`read`): K keys [B, K, 2Z] and K strengths [B, K] > 0; the weight of
row j for key i is softmax_j(β_i cos(k_i, M_j)), and the read vector is
Σ_j w_ij M_j.

Writing (`write`), after the step's reads, with the step's latent z_t:
  usage        u ← u + Σ_i w_i  (the read weights), and +1 on the row written;
  v_wr         one-hot at the least-used row (ties: the lowest index, so an
               empty memory fills in order);
  memory       M ← M + v_wr [z_t, 0] + v_ret [0, z_t]: z_t into its own row's
               first half, and into the rows written before it, weighted by
               the trace, in their second halves;
  retroactive  v_ret ← γ v_ret + (1 − γ) v_wr.
The retroactive term uses the trace from before this step's write, so a
row's second half holds what came after it (the paper's "retroactive
memory updating"); the +1 on a written row keeps a freshly written, unread
row from being overwritten at once (the paper leaves the usage of writes
unsaid; docs/merlin.md).

`reset` zeroes the memories of environments whose episode starts.
"""

import collections

import tensorflow as tf

# Keeps the cosine finite for an all-zero row or key (an empty memory).
COSINE_EPSILON = 1e-6

MemoryState = collections.namedtuple('MemoryState', ['memory', 'usage', 'retroactive'])


def initial_state(batch_size: int, rows: int, latent_size: int) -> MemoryState:
  """Empty memories for `batch_size` environments (float32 zeros)."""
  return MemoryState(tf.zeros([batch_size, rows, 2 * latent_size]),
                     tf.zeros([batch_size, rows]), tf.zeros([batch_size, rows]))


def read(memory, keys, strengths):
  """Content-based reads.

  Args:
    memory: float32 [B, N, 2Z].
    keys: float32 [B, K, 2Z].
    strengths: float32 [B, K], positive (β; e.g. a softplus of a layer).

  Returns:
    (read vectors float32 [B, K, 2Z], read weights float32 [B, K, N]).
  """
  memory = tf.convert_to_tensor(memory, tf.float32)
  keys = tf.convert_to_tensor(keys, tf.float32)
  strengths = tf.convert_to_tensor(strengths, tf.float32)
  memory.shape.assert_has_rank(3)
  keys.shape.assert_has_rank(3)
  strengths.shape.assert_has_rank(2)
  dot = tf.einsum('bkd,bnd->bkn', keys, memory)
  norms = (tf.norm(keys, axis=-1)[:, :, None] * tf.norm(memory, axis=-1)[:, None, :])
  cosine = dot / (norms + COSINE_EPSILON)
  weights = tf.nn.softmax(strengths[:, :, None] * cosine, axis=-1)
  return tf.einsum('bkn,bnd->bkd', weights, memory), weights


def write(state: MemoryState, latent, read_weights, gamma: float) -> MemoryState:
  """Writes `latent` after a step's reads (see the module docstring).

  Args:
    state: the memories before the write.
    latent: float32 [B, Z], z_t.
    read_weights: float32 [B, K, N], this step's read weights (usage).
    gamma: the retroactive trace's decay in [0, 1].

  Returns:
    The memories after it.
  """
  memory, usage, retroactive = state
  latent = tf.convert_to_tensor(latent, tf.float32)
  latent.shape.assert_has_rank(2)
  usage = usage + tf.reduce_sum(read_weights, axis=1)
  rows = tf.shape(memory)[1]
  # argmin returns the first of equal minima: the lowest index.
  write_weights = tf.one_hot(tf.argmin(usage, axis=-1, output_type=tf.int32), rows)
  zeros = tf.zeros_like(latent)
  memory = (memory
            + write_weights[:, :, None] * tf.concat([latent, zeros], -1)[:, None, :]
            + retroactive[:, :, None] * tf.concat([zeros, latent], -1)[:, None, :])
  usage = usage + write_weights
  retroactive = gamma * retroactive + (1.0 - gamma) * write_weights
  return MemoryState(memory, usage, retroactive)


def reset(state: MemoryState, first) -> MemoryState:
  """Zeroes the memories of environments whose episode starts.

  Args:
    state: the memories.
    first: bool [B], True where this step starts an episode.
  """
  keep = 1.0 - tf.cast(first, tf.float32)
  return MemoryState(state.memory * keep[:, None, None], state.usage * keep[:, None],
                     state.retroactive * keep[:, None])
