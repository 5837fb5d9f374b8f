"""PBT's config section: `config.pbt` (`--config.pbt.FIELD=VALUE`).

Used by learners started with --pbt_dir and --pbt_member (see
binaries/pbt_local.py). Defaults are the IMPALA paper's (Appendix F). Which
hyperparameters can be searched, and their default ranges, are the agent's
(`interface.Agent.searchable`); this section picks among them and may narrow
or move their ranges. TensorFlow-free.
"""

import dataclasses
import math
from typing import Dict, Tuple

from impala_tf import field_checks

_PREFIX = 'pbt.'
# How a member decides to copy another (`pbt.rules.EXPLOIT_RULES`):
# 'fitness_margin', the IMPALA paper's (the other's fitness higher by more
# than exploit_margin), or 'win_probability', FTW's (fitnesses are Elo
# ratings; copy when the other's predicted chance of winning exceeds
# exploit_win_probability).
EXPLOIT_RULES = ('fitness_margin', 'win_probability')
# The slowest member (frames/s) that must still look alive: a learner this
# slow is rare, and heartbeat_frames / stale_seconds above it is refused.
SLOWEST_LIVE_FRAMES_PER_SECOND = 50


@dataclasses.dataclass
class PBTConfig:
  """How a population searches."""

  # The agent's hyperparameters under search; empty: all it declares
  # (`registry.AgentInfo.searchable`; IMPALA's are learning_rate,
  # entropy_cost, optimizer_epsilon, i.e. RMSProp's or Adam's ε, and
  # grad_clip_norm). A member checks the names when it starts.
  hyperparameters: Tuple[str, ...] = ()
  # (name, low, high) entries replacing the agent's default range of that
  # hyperparameter: a new member samples inside it and perturbations stay
  # inside. IMPALA's defaults are paper Table D.1's.
  ranges: Tuple[Tuple[str, float, float], ...] = ()
  # False: a new member starts from this config's values instead of a sample.
  sample_initial: bool = True
  # No decision before a member has trained this many frames.
  burn_in_frames: int = 20_000_000
  # A member is ready for a decision after this many episodes since its
  # last one (paper: 5,000, for Atari). Its fitness is the mean return over
  # the episodes since its last decision (capped human-normalised scores for
  # Atari, each task in its environment's own units otherwise).
  ready_episodes: int = 5000
  # Per task, (low, high) reference returns in the environment's own units
  # (random play's and a target's): each task's mean return counts as
  # (mean − low) / (high − low), as Atari's count as human-normalised
  # scores, so tasks whose returns differ by orders of magnitude weigh
  # alike and every member is measured on one scale. Needed by a non-Atari
  # population of several tasks; empty: Atari games' human-normalised
  # scores, or a single task's own return.
  task_references: Tuple[Tuple[float, float], ...] = ()
  # A member with fewer episodes since its last decision has no fitness of
  # its own (it neither copies nor is copied); after a copy or a restart the
  # weights are new, so the count starts again.
  min_episodes: int = 100
  # Exploit when the other member's fitness is higher by more than this, an
  # absolute amount in fitness units: the paper's 5 % of the capped
  # human-normalised score is 0.05; for raw returns, set it in return units.
  exploit_margin: float = 0.05
  # The exploit rule (EXPLOIT_RULES) and FTW's threshold for its own.
  exploit_rule: str = 'fitness_margin'
  exploit_win_probability: float = 0.7
  # Explore, at every decision: each hyperparameter × factor or ÷ factor
  # with this probability.
  perturb_factor: float = 1.2
  perturb_probability: float = 0.33
  # A member publishes (checkpoint + state) and, if ready, decides every
  # this many of its frames: frames, not seconds, so a slow machine makes
  # the same decisions as a fast one.
  interval_frames: int = 500_000
  # A member rewrites its heartbeat file every this many of its frames (or
  # every interval_frames, if that is fewer: `heartbeat_every()`); one whose
  # heartbeat is older than stale_seconds (both times stamped by
  # the shared directory's filesystem) has stopped stepping frames, is
  # presumed dead or stuck, and is not a candidate to copy. A live member
  # looks dead only below heartbeat_frames / stale_seconds frames/s (11
  # with these defaults), which is refused above 50.
  heartbeat_frames: int = 10_000
  stale_seconds: float = 900.0

  def heartbeat_every(self) -> int:
    """Frames between a member's heartbeats."""
    return min(self.heartbeat_frames, self.interval_frames)

  def range_overrides(self) -> Dict[str, Tuple[float, float]]:
    """{name: (low, high)} of `ranges`."""
    return {name: (float(low), float(high)) for name, low, high in self.ranges}

  def validate(self, error):
    """Raises `error(message)` naming the first invalid field."""
    if isinstance(self.hyperparameters, list):
      self.hyperparameters = tuple(self.hyperparameters)
    if isinstance(self.task_references, list):
      self.task_references = tuple(tuple(r) if isinstance(r, list) else r
                                   for r in self.task_references)
    references = (self.task_references if isinstance(self.task_references, tuple)
                  else (None,))
    for entry in references:
      if (not isinstance(entry, tuple) or len(entry) != 2
          or not all(isinstance(x, (int, float)) and not isinstance(x, bool)
                     and math.isfinite(x) for x in entry) or not entry[0] < entry[1]):
        raise error('pbt.task_references must be a tuple of (low, high) reference returns '
                    f'per task with low < high, got {self.task_references!r}.')
    if isinstance(self.ranges, list):
      self.ranges = tuple(tuple(r) if isinstance(r, list) else r for r in self.ranges)
    if (not isinstance(self.hyperparameters, tuple)
        or not all(isinstance(n, str) and n for n in self.hyperparameters)
        or len(set(self.hyperparameters)) != len(self.hyperparameters)):
      raise error('pbt.hyperparameters must be a tuple of distinct names of the agent\'s '
                  f'searchable hyperparameters (empty: all), got {self.hyperparameters!r}.')
    for entry in self.ranges if isinstance(self.ranges, tuple) else (None,):
      if (not isinstance(entry, tuple) or len(entry) != 3 or not isinstance(entry[0], str)
          or not all(isinstance(x, (int, float)) and not isinstance(x, bool)
                     for x in entry[1:]) or not 0 < entry[1] <= entry[2]):
        raise error('pbt.ranges must be a tuple of (name, low, high) with 0 < low <= high, '
                    f'got {self.ranges!r}.')
    for name in ('burn_in_frames', 'ready_episodes'):
      field_checks.non_negative_integer(self, name, error, prefix=_PREFIX)
    for name in ('interval_frames', 'min_episodes', 'heartbeat_frames'):
      field_checks.positive(self, name, error, prefix=_PREFIX)
    if self.min_episodes > max(self.ready_episodes, 1):
      raise error(f'pbt.min_episodes ({self.min_episodes}) must not exceed '
                  f'pbt.ready_episodes ({self.ready_episodes}): a ready member must have '
                  'a fitness to compare.')
    field_checks.one_of(self, 'exploit_rule', EXPLOIT_RULES, error, prefix=_PREFIX)
    field_checks.in_range(self, 'exploit_win_probability', 0.5, 1.0, low_open=False,
                          error=error, prefix=_PREFIX)
    for name, low, high in (('exploit_margin', 0.0, math.inf),
                            ('perturb_factor', 1.0, math.inf),
                            ('perturb_probability', 0.0, 1.0)):
      field_checks.in_range(self, name, low, high, error=error, prefix=_PREFIX)
    field_checks.positive(self, 'stale_seconds', error, integer=False, prefix=_PREFIX)
    slowest = self.heartbeat_every() / self.stale_seconds
    if slowest > SLOWEST_LIVE_FRAMES_PER_SECOND:
      raise error(f'pbt.stale_seconds ({self.stale_seconds:g}) is too short for '
                  f'pbt.heartbeat_frames ({self.heartbeat_every()}): a live member stepping '
                  f'fewer than {slowest:.0f} frames/s would look dead; keep '
                  f'heartbeat_frames / stale_seconds at most {SLOWEST_LIVE_FRAMES_PER_SECOND} '
                  'frames/s.')
    if not isinstance(self.sample_initial, bool):
      raise error(f'pbt.sample_initial must be true or false, got {self.sample_initial!r}.')
