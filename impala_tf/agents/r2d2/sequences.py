"""Cutting one environment's steps into R2D2's replay sequences.

The paper (Section 2.3) replays fixed-length sequences of m = 80 steps;
adjacent sequences overlap by m − period = 40 steps and never cross an
episode boundary, and each stores the recurrent state the actor had at its
first step. A `SequenceBuilder` does this for one environment on plain numpy
data; what it produces goes to a *step writer*, which holds each step once:

- `append(step, mask, state)`: the next step (mask 0 on padding); `state` is
  the recurrent state before it where a sequence starts there, else None;
- `create(episode_start)`: a sequence over the last `length` appended steps.

`NumpyWriter` (here) stacks each sequence into arrays, for tests and tools;
`replay.SequenceWriter` appends each step to Reverb once and makes every
sequence an item over that history, so overlapping sequences share storage.

Windows start every `period` steps of an episode. A window is emitted when it
holds `length` steps. With a `lead` (the learner's burn-in), windows start
`lead` steps before the episode, on padding (mask 0): the learner trains only
after the burn-in, so without it an episode's first `lead` steps would never
be trained. The network resets its state at the episode's first step, so a
burn-in over that padding changes nothing. When the episode ends, the oldest
unfinished window is filled with padding (zeros, mask 0) and emitted, unless
every step in it was already in an emitted sequence; so every step of every
episode is replayed, and the padding never holds a step of the next episode.
"""

import collections
import dataclasses
from typing import Any, Dict, List

import numpy as np


@dataclasses.dataclass
class Sequence:
  """One replay sequence, as arrays.

  Attributes:
    steps: {name: array [length, ...]}, padded with zeros after an episode's end.
    mask: float32 [length], 1 on real steps.
    start_state: the recurrent state before the sequence's first step (any
      tuple structure of arrays, as given to `add`); zeros where the sequence
      starts its episode.
    episode_start: whether the sequence starts its episode (on the lead's
      padding, if any).
  """
  steps: Dict[str, np.ndarray]
  mask: np.ndarray
  start_state: Any
  episode_start: bool


def _zeros_like(state):
  if isinstance(state, (tuple, list)):
    return type(state)(_zeros_like(s) for s in state)
  return np.zeros_like(state)


class NumpyWriter:
  """A step writer whose sequences are `Sequence`s of stacked arrays."""

  def __init__(self, length: int):
    self.length = length
    self.appended = 0
    self._steps = collections.deque(maxlen=length)

  def append(self, step, mask, state):
    self._steps.append((step, mask, state))
    self.appended += 1

  def create(self, episode_start: bool) -> Sequence:
    held = list(self._steps)
    if len(held) < self.length or held[0][2] is None:
      raise ValueError('a sequence needs `length` steps and a state at its first one.')
    return Sequence({k: np.stack([s[k] for s, _, _ in held]) for k in held[0][0]},
                    np.array([m for _, m, _ in held], np.float32), held[0][2], episode_start)


class SequenceBuilder:
  """Cuts one environment's steps into overlapping sequences.

  It keeps the steps since its oldest open window, so `attach` can give a new
  writer (after a reconnect) the history its open windows need.
  """

  def __init__(self, length: int = 80, period: int = 40, lead: int = 0, writer=None):
    if not 0 < period <= length:
      raise ValueError(f'period must be in (0, length] = (0, {length}], got {period}.')
    if not 0 <= lead < length:
      raise ValueError(f'lead must be in [0, length) = [0, {length}), got {lead}.')
    self.length = length
    self.period = period
    self.lead = lead
    self.writer = writer if writer is not None else NumpyWriter(length)
    self._reset()

  def _reset(self):
    self._held: List[tuple] = []   # (step, mask, state) since the oldest open window
    self._open: List[int] = []     # episode steps where unemitted windows start
    self._offset = 0               # episode step of self._held[0]
    self._emitted_end = 0          # episode steps before this are in an emitted sequence
    self._count = 0                # steps of the episode so far (padding included)
    self._real_count = 0           # real steps of the episode so far

  def attach(self, writer):
    """Continues into `writer`, appending to it the steps open windows hold."""
    self.writer = writer
    for held in self._held:
      writer.append(*held)

  def add(self, step: Dict[str, np.ndarray], state_before) -> List[Any]:
    """Adds one step (what the agent saw, did and got); `state_before` is the
    recurrent state before it. Returns what the writer's `create` returned
    for the sequences it completes."""
    step = {k: np.asarray(v) for k, v in step.items()}
    if self._real_count == 0:
      # An episode starts from the initial (zero) state: the network resets
      # at its first step whatever state it carried from the previous one.
      state_before = _zeros_like(state_before)
      if self.lead:
        padding = {k: np.zeros_like(v) for k, v in step.items()}
        for _ in range(self.lead):
          self._append(padding, 0.0, state_before)
    self._real_count += 1
    return self._append(step, 1.0, state_before)

  def _append(self, step, mask, state):
    if self._count % self.period == 0:
      self._open.append(self._count)
    else:
      state = None   # only a sequence's first step carries its state
    self._held.append((step, mask, state))
    self.writer.append(step, mask, state)
    self._count += 1
    start = self._count - self.length
    if start >= 0 and start % self.period == 0:
      return [self._emit(start)]
    return []

  def end_episode(self) -> List[Any]:
    """The episode ended with the last step added: fills the oldest unemitted
    window with padding, emits it, and starts afresh."""
    out = []
    if self._real_count and self._count > self._emitted_end:
      # A window is open while a step is unemitted (one starts every period
      # steps); padding completes the oldest, which is emitted on its last.
      template = self._held[-1][0]
      padding = {k: np.zeros_like(v) for k, v in template.items()}
      zero_state = _zeros_like(next(s for _, _, s in self._held if s is not None))
      while not out:
        out = self._append(padding, 0.0, zero_state)
    self._reset()
    return out

  def _emit(self, start):
    self._open.remove(start)
    self._emitted_end = self._count
    created = self.writer.create(start == 0)
    # Steps before the oldest open window are no longer needed.
    keep_from = min(self._open) if self._open else self._count
    del self._held[:keep_from - self._offset]
    self._offset = keep_from
    return created
