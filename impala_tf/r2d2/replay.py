"""R2D2's prioritised sequence replay, as a Reverb table.

Sequences are sampled with probability p_i^α / Σ p^α (α = the priority
exponent, 0.9 in the paper), evicted oldest first, and the replay ratio
(samples per insert) is held by Reverb's `SampleToInsertRatio` rate limiter.
The learner writes each sampled sequence's new priority back after its
update (`update_priorities`).
"""

import reverb

SEQUENCE_TABLE = 'r2d2_sequences'


def table(signature, capacity: int, priority_exponent: float = 0.9,
          samples_per_insert: float = 4.0, min_size: int = 1000,
          error_buffer: float = None, name: str = SEQUENCE_TABLE) -> reverb.Table:
  """The replay table.

  Args:
    signature: the structure of tf.TensorSpec of one sequence.
    capacity: sequences held (oldest evicted first).
    priority_exponent: α.
    samples_per_insert: the replay ratio the rate limiter holds, in sampled
      sequences per inserted sequence.
    min_size: sequences before the first sample.
    error_buffer: how far (in samples) the ratio may drift before a side
      blocks; default: enough for a sample batch either way.
  """
  if capacity < min_size:
    raise ValueError(f'capacity ({capacity}) must be at least min_size ({min_size}).')
  if error_buffer is None:
    error_buffer = max(2.0 * samples_per_insert * max(min_size, 1) / 10.0, 100.0)
  return reverb.Table(
      name=name,
      sampler=reverb.selectors.Prioritized(priority_exponent),
      remover=reverb.selectors.Fifo(),
      max_size=capacity,
      rate_limiter=reverb.rate_limiters.SampleToInsertRatio(
          samples_per_insert=samples_per_insert, min_size_to_sample=min_size,
          error_buffer=error_buffer),
      signature=signature)


def update_priorities(client: reverb.Client, keys, priorities, name: str = SEQUENCE_TABLE):
  """Writes back the priorities of the sampled sequences `keys` (uint64 [B])."""
  client.mutate_priorities(name, updates=dict(zip(
      [int(k) for k in keys], [float(p) for p in priorities])))
