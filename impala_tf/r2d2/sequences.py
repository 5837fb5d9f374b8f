"""Cutting one environment's steps into R2D2's replay sequences.

The paper (Section 2.3) replays fixed-length sequences of m = 80 steps;
adjacent sequences overlap by m − period = 40 steps and never cross an
episode boundary, and each stores the recurrent state the actor had at its
first step. A `SequenceBuilder` does this for one environment, on plain numpy
data, so it can be tested on its own; the actor's Reverb writer sends what
it emits.

Windows start every `period` steps of an episode. A window is emitted when it
holds `length` steps. With a `lead` (the learner's burn-in), windows start
`lead` steps before the episode, on padding (mask 0): the learner trains only
after the burn-in, so without it an episode's first `lead` steps would never
be trained. The network resets its state at the episode's first step, so a
burn-in over that padding changes nothing. When the episode ends, the oldest unfinished window is
emitted padded (zeros, mask 0), unless every step in it was already in an
emitted sequence; so every step of every episode is replayed, and the
padding never holds a step of the next episode.
"""

import dataclasses
from typing import Any, Dict, List

import numpy as np


@dataclasses.dataclass
class Sequence:
  """One replay sequence.

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


class SequenceBuilder:
  """Cuts one environment's steps into overlapping sequences."""

  def __init__(self, length: int = 80, period: int = 40, lead: int = 0):
    if not 0 < period <= length:
      raise ValueError(f'period must be in (0, length] = (0, {length}], got {period}.')
    if not 0 <= lead < length:
      raise ValueError(f'lead must be in [0, length) = [0, {length}), got {lead}.')
    self.length = length
    self.period = period
    self.lead = lead
    self._reset()

  def _reset(self):
    self._steps: List[Dict[str, np.ndarray]] = []   # since the oldest open window
    self._real: List[bool] = []                     # False on the lead's padding
    self._states: Dict[int, Any] = {}               # window start (episode step) -> state
    self._offset = 0        # episode step of self._steps[0]
    self._emitted_end = 0   # episode steps before this are in an emitted sequence
    self._count = 0         # steps of the episode so far

  def add(self, step: Dict[str, np.ndarray], state_before) -> List[Sequence]:
    """Adds one step (what the agent saw, did and got); `state_before` is the
    recurrent state before it. Returns the sequences it completes."""
    step = {k: np.asarray(v) for k, v in step.items()}
    if self._count == 0:
      # An episode starts from the initial (zero) state: the network resets
      # at its first step whatever state it carried from the previous one.
      state_before = _zeros_like(state_before)
    if self._count == 0 and self.lead:
      padding = {k: np.zeros_like(v) for k, v in step.items()}
      for _ in range(self.lead):
        self._append(padding, state_before, real=False)
    return self._append(step, state_before, real=True)

  def _append(self, step, state_before, real):
    if self._count % self.period == 0:
      self._states[self._count] = state_before
    self._steps.append(step)
    self._real.append(real)
    self._count += 1
    out = []
    start = self._count - self.length
    if start >= 0 and start % self.period == 0:
      out.append(self._emit(start, self._count))
    return out

  def end_episode(self) -> List[Sequence]:
    """The episode ended with the last step added: emits what is left, padded,
    and starts afresh."""
    out = []
    if self._count > self._emitted_end:
      # The oldest window that has not been emitted (one is always open
      # while a step is unemitted: a window starts every period steps).
      out.append(self._emit(min(self._states), self._count))
    self._reset()
    return out

  def _emit(self, start, end) -> Sequence:
    held = self._steps[start - self._offset:end - self._offset]
    pad = self.length - len(held)
    steps = {k: np.concatenate([np.stack([s[k] for s in held]),
                                np.zeros((pad, *held[0][k].shape), held[0][k].dtype)])
             for k in held[0]}
    mask = np.concatenate([np.array(self._real[start - self._offset:end - self._offset],
                                    np.float32), np.zeros(pad, np.float32)])
    sequence = Sequence(steps, mask, self._states.pop(start), start == 0)
    self._emitted_end = max(self._emitted_end, end)
    # Steps before the oldest open window are no longer needed.
    keep_from = min(self._states) if self._states else self._count
    del self._steps[:keep_from - self._offset]
    del self._real[:keep_from - self._offset]
    self._offset = keep_from
    return sequence
