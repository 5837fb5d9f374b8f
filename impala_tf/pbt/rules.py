"""PBT's decisions as pure functions of numbers and a seeded generator.

The defaults in `PBTConfig` are the IMPALA paper's (Appendix F): a member
is ready after 5,000 episodes since its last decision; it then compares
itself with another member drawn at random and, if that one's fitness is
higher by more than an absolute 5 % of the capped human-normalised score
(0.05), copies its weights, optimiser state and hyperparameters. Whether or
not it copied, each hyperparameter is then multiplied by 1.2 or 1/1.2 with
probability 0.33, kept within its range (the explore step).
"""

import math
from typing import Dict, Mapping, Optional, Sequence

import numpy as np

from impala_tf.selfplay import elo


def _draw_one(rng: np.random.Generator, spec) -> float:
  if spec.log_scale:
    return float(math.exp(rng.uniform(math.log(spec.low), math.log(spec.high))))
  return float(rng.uniform(spec.low, spec.high))


def _fit(spec, value: float):
  """`value` clipped to the spec's range, an int for an integer."""
  value = min(max(value, spec.low), spec.high)
  return int(round(value)) if spec.kind == 'integer' else float(value)


def draw(rng: np.random.Generator, spec):
  """A fresh value of `spec` (an `interface.Hyperparameter`): log-uniform or
  uniform in its range; a list of `size` floats for a vector."""
  if spec.kind == 'vector':
    return [_draw_one(rng, spec) for _ in range(spec.size)]
  return _fit(spec, _draw_one(rng, spec))


def sample_initial(rng: np.random.Generator, specs: Sequence) -> Dict[str, object]:
  """One member's starting hyperparameters: a draw of each of `specs`."""
  return {spec.name: draw(rng, spec) for spec in specs}


def is_ready(frames: int, episodes_since_decision: int, burn_in_frames: int,
             ready_episodes: int) -> bool:
  """Past the burn-in, and enough episodes since the last decision (or start)."""
  return frames >= burn_in_frames and episodes_since_decision >= ready_episodes


def should_exploit(own_fitness: Optional[float], other_fitness: Optional[float],
                   margin: float) -> bool:
  """True when the other member's fitness exceeds ours by more than the
  absolute `margin` (in fitness units: 0.05 of a capped human-normalised
  score, or a return). An absolute margin, not a relative one: near a
  fitness of 0 a relative margin lets any noise trigger a copy. A member
  without a measured fitness neither copies nor is copied (see
  `FitnessWindow`'s minimum number of episodes)."""
  if own_fitness is None or other_fitness is None:
    return False
  if not (math.isfinite(own_fitness) and math.isfinite(other_fitness)):
    return False
  return other_fitness - own_fitness > margin


def win_probability(own_rating: float, other_rating: float) -> float:
  """Elo's predicted probability that the player rated `other_rating` beats
  the one rated `own_rating`: 1 / (1 + 10^((own − other) / 400))."""
  return float(elo.expected_score(other_rating, own_rating))


def should_exploit_by_win_probability(own_fitness: Optional[float],
                                      other_fitness: Optional[float],
                                      threshold: float) -> bool:
  """FTW's rule (Jaderberg et al. 2019): the fitnesses are Elo ratings, and
  a member copies another whose predicted probability of beating it exceeds
  `threshold` (0.7 in FTW). A missing or non-finite rating never copies."""
  if own_fitness is None or other_fitness is None:
    return False
  if not (math.isfinite(own_fitness) and math.isfinite(other_fitness)):
    return False
  return win_probability(own_fitness, other_fitness) > threshold


# `pbt.exploit_rule`: name -> fn(own fitness, other's fitness, pbt config)
# -> whether to copy the other. The names are `pbt.config.EXPLOIT_RULES`.
EXPLOIT_RULES = {
    'fitness_margin': lambda own, other, pbt: should_exploit(own, other, pbt.exploit_margin),
    'win_probability': lambda own, other, pbt: should_exploit_by_win_probability(
        own, other, pbt.exploit_win_probability),
}


def exploit_rule(pbt_config):
  """fn(own fitness, other's fitness) -> bool: the population's exploit rule."""
  rule = EXPLOIT_RULES[pbt_config.exploit_rule]
  return lambda own, other: rule(own, other, pbt_config)


def candidates(states: Mapping[int, Optional[Dict]], own: int, population_size: Optional[int],
               heartbeat_ages: Mapping[int, Optional[float]], stale_seconds: float) -> list:
  """Members another member may be compared with.

  Args:
    states: {member: its published state dict, or None}.
    own: the deciding member (never a candidate).
    population_size: members of the current population are 0..size-1;
      states of higher members are from an older, larger population in the
      same directory. None: no limit.
    heartbeat_ages: {member: seconds since its last heartbeat, or None if it
      has none}. Each member's heartbeat is written every
      `pbt.heartbeat_frames` of its frames; the ages are differences of
      times stamped by one clock, the shared directory's (see
      `Member._heartbeat_ages`), not of two machines' clocks.
    stale_seconds: a member whose heartbeat is older than this has stopped
      stepping frames: dead or stuck.

  Returns:
    Sorted member indices with a measured fitness.
  """
  out = []
  for member, state in states.items():
    if member == own or state is None:
      continue
    if population_size is not None and member >= population_size:
      continue
    fitness = state.get('fitness')
    if fitness is None or not math.isfinite(fitness):
      continue
    age = heartbeat_ages.get(member)
    if age is None or age > stale_seconds:
      continue
    out.append(member)
  return sorted(out)


def pick_other(rng: np.random.Generator, own: int, candidate_members: Sequence[int]):
  """Another member drawn uniformly at random (None if there is none)."""
  others = [m for m in candidate_members if m != own]
  return int(rng.choice(others)) if others else None


def explore(rng: np.random.Generator, hyperparameters: Dict[str, object], specs: Sequence,
            factor: float = 1.2, probability: float = 0.33) -> Dict[str, object]:
  """Each hyperparameter, with `probability`, perturbed as its spec says:
  'multiply' by `factor` or 1/`factor` (even odds; a vector's entries each
  their own way), or 'resample' from its range; then clipped to the range
  (an integer rounded)."""
  by_name = {spec.name: spec for spec in specs}
  out = {}
  for name, value in hyperparameters.items():
    spec = by_name[name]
    if rng.uniform() < probability:
      if spec.perturb == 'resample':
        value = draw(rng, spec)
      elif spec.kind == 'vector':
        value = [v * factor if rng.uniform() < 0.5 else v / factor for v in value]
      else:
        value = value * factor if rng.uniform() < 0.5 else value / factor
    out[name] = ([_fit(spec, v) for v in value] if spec.kind == 'vector'
                 else _fit(spec, value))
  return out


class FitnessWindow:
  """A member's fitness: the mean over the episodes since its last decision.

  Per task, returns are divided by the task's reward scale (so a task whose
  rewards were multiplied by 1000 counts in its environment's own units);
  with `references`, each task's mean is placed between its two reference
  returns; with `human_normalizers` (Atari), it is mapped to its
  human-normalised score (capped at 1 for several games, IMPALA Appendix
  F). The fitness is the mean over tasks,
  defined once every task has an episode and at least `min_episodes` have
  ended in all; before that, the previous window's value stands in, unless
  the weights changed under it (a copy or a restart: `reset(keep=False)`).
  After a copy, only episodes whose first action came from the copied
  weights count: one that ends just after the copy was played mostly by the
  weights that were replaced.
  """

  def __init__(self, num_tasks: int, min_episodes: int, reward_scales: Sequence[float] = (),
               human_normalizers=None, references: Sequence = ()):
    """
    Args:
      num_tasks: K.
      min_episodes: episodes the window needs before it has a fitness.
      reward_scales: K factors the tasks' rewards were multiplied by (empty: 1).
      human_normalizers: None, or K functions mapping a mean return to a
        human-normalised score (None where the game has no reference).
      references: empty, or K (low, high) reference returns in the
        environment's units: task k's mean m counts as (m − low) / (high −
        low) (`pbt.task_references`; used instead of `human_normalizers`).
    """
    self._num_tasks = num_tasks
    self._min_episodes = max(1, int(min_episodes))
    self._scales = list(reward_scales) or [1.0] * num_tasks
    self._normalizers = human_normalizers
    if references:
      if len(references) != num_tasks:
        raise ValueError(f'{len(references)} references for {num_tasks} tasks.')
      self._normalizers = [lambda m, low=low, high=high: (m - low) / (high - low)
                           for low, high in references]
    self._sums = [0.0] * num_tasks
    self._counts = [0] * num_tasks
    self._previous = None
    self._from_version = -1

  @property
  def episodes(self) -> int:
    """Episodes in the current window."""
    return sum(self._counts)

  def add(self, returns: Sequence[float], tasks: Sequence[int],
          start_versions: Sequence[int]):
    """Records finished episodes: their returns, task indices and the
    weights version that took each one's first action (an episode that
    started before the window's `from_version` is not counted)."""
    if not len(returns) == len(tasks) == len(start_versions):
      raise ValueError(f'{len(returns)} returns, {len(tasks)} tasks and '
                       f'{len(start_versions)} start versions: one of each per episode.')
    for ret, task, version in zip(returns, tasks, start_versions):
      if (0 <= task < self._num_tasks and math.isfinite(ret)
          and version >= self._from_version):
        self._sums[task] += ret / self._scales[task]
        self._counts[task] += 1

  def _current(self) -> Optional[float]:
    if self.episodes < self._min_episodes or not all(self._counts):
      return None
    means = [s / c for s, c in zip(self._sums, self._counts)]
    if self._normalizers is not None:
      scores = [f(m) for f, m in zip(self._normalizers, means)]
      if all(s is not None for s in scores):
        return float(np.mean(scores))
    return float(np.mean(means))

  def value(self) -> Optional[float]:
    """The window's fitness, else the previous window's, else None."""
    current = self._current()
    return current if current is not None else self._previous

  def reset(self, keep: bool, from_version: Optional[int] = None):
    """Starts a new window. keep=True (a decision that kept the weights):
    this window's fitness stands in until the new one has enough episodes.
    keep=False (the weights were replaced): no fitness until it has.
    `from_version`: the first weights version acting with the new weights
    (the learner's step at the copy); episodes started by older weights no
    longer count."""
    if from_version is not None:
      self._from_version = int(from_version)
    current = self._current()
    self._previous = (current if current is not None else self._previous) if keep else None
    self._sums = [0.0] * self._num_tasks
    self._counts = [0] * self._num_tasks
