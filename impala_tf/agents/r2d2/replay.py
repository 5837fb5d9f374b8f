"""R2D2's prioritised sequence replay, as a Reverb table.

Sequences are sampled with probability p_i^α / Σ p^α (α = the priority
exponent, 0.9 in the paper), evicted oldest first, and the replay ratio
(samples per insert) is held by Reverb's `SampleToInsertRatio` rate limiter.
The learner writes each sampled sequence's new priority back after its
update (`update_priorities`).
"""

import collections

import numpy as np
import reverb

SEQUENCE_TABLE = 'r2d2_sequences'
# A step field the actor keeps for its priority and does not write: the Q
# values it acted on, [A].
Q_VALUES = 'q_values'


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
  """Writes back the priorities of the sampled sequences `keys` (uint64 [B]).

  A sequence whose priority is not finite (a NaN or Inf in its rewards or
  observations) is deleted instead: Reverb refuses a NaN priority, and such
  a sequence would spoil every batch it is sampled into. Returns the keys
  deleted (a batch can hold a sequence more than once, and samples already
  in flight can hold one deleted before).
  """
  keys = [int(k) for k in keys]
  priorities = np.asarray(priorities, np.float64)
  finite = np.isfinite(priorities)
  deletes = sorted({k for k, ok in zip(keys, finite) if not ok})
  client.mutate_priorities(
      name, updates={k: float(p) for k, p, ok in zip(keys, priorities, finite) if ok},
      deletes=deletes)
  return deletes


class SequenceWriter:
  """A `sequences.SequenceBuilder`'s step writer into the replay table.

  Each step is appended to Reverb once, as a step of this environment's
  trajectory; a sequence is an item over its last `length` steps, with the
  state stored at its first step and the weights version of its last. So
  sequences that overlap by m − period steps share those steps' storage
  instead of holding copies (the paper's Atari replay: 4M steps, not 12M).
  """

  def __init__(self, client, length: int, priority, weights_version,
               with_state: bool, name: str = SEQUENCE_TABLE):
    """`priority`: every new sequence's priority (a float), or a function
    of its last `length` steps' (Q values [L, A], actions, rewards,
    discounts, mask [L]) returning it, with each step's Q values given as
    its `Q_VALUES` field (kept here, not written);
    `weights_version`: a callable giving the version of the acting weights;
    `with_state`: whether sequences store a recurrent state (an LSTM core)."""
    self._writer = client.trajectory_writer(num_keep_alive_refs=length)
    self._length = length
    self._priority = priority
    self._kept = collections.deque(maxlen=length) if callable(priority) else None
    self._weights_version = weights_version
    self._name = name
    self._with_state = with_state

  @property
  def writer(self):
    return self._writer

  def append(self, step, mask, state):
    data = dict(step, mask=np.float32(mask),
                weights_version=np.int64(self._weights_version()))
    q_values = data.pop(Q_VALUES, None)
    if self._kept is not None:
      self._kept.append((q_values, step['action'], step['reward'], step['discount'], mask))
    if self._with_state:
      # A partial step elsewhere: only a sequence's first step holds a state.
      data['core_state'] = ((None, None) if state is None
                            else tuple(np.asarray(s, np.float32) for s in state))
    self._writer.append(data)

  def create(self, episode_start: bool):
    del episode_start   # the stored state already says it (zeros)
    history = self._writer.history
    trajectory = {name: column[-self._length:] for name, column in history.items()
                  if name not in ('core_state', 'weights_version')}
    trajectory['weights_version'] = history['weights_version'][-1]
    if self._with_state:
      trajectory['core_state'] = tuple(c[-self._length] for c in history['core_state'])
    priority = self._priority
    if self._kept is not None:
      priority = priority(*(np.stack(column) for column in zip(*self._kept)))
    self._writer.create_item(self._name, priority=priority, trajectory=trajectory)

  def close(self):
    self._writer.close()
