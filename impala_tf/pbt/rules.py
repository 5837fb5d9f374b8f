"""PBT's decisions as pure functions of numbers and a seeded generator.

The defaults in `ImpalaConfig` are the IMPALA paper's (Appendix F): a member
is ready after 5,000 episodes since its last exploit; it then compares
itself with another member drawn at random and, if that one is better by
more than 5 %, copies its weights, optimiser state and hyperparameters;
each hyperparameter is then multiplied by 1.2 or 1/1.2 with probability
0.33, kept within its range.
"""

import math
from typing import Dict, Sequence, Tuple

import numpy as np

# Hyperparameters PBT may search, and where each lives in the learner.
SEARCHABLE = ('learning_rate', 'entropy_cost', 'optimizer_epsilon', 'grad_clip_norm')


def sample_initial(rng: np.random.Generator, ranges: Dict[str, Tuple[float, float]],
                   log_uniform: Sequence[str]) -> Dict[str, float]:
  """One member's starting hyperparameters: uniform in each range, or
  log-uniform for the names in `log_uniform`."""
  out = {}
  for name, (low, high) in ranges.items():
    if name in log_uniform:
      out[name] = float(math.exp(rng.uniform(math.log(low), math.log(high))))
    else:
      out[name] = float(rng.uniform(low, high))
  return out


def is_ready(frames: int, episodes_since_change: int, burn_in_frames: int,
             ready_episodes: int) -> bool:
  """Past the burn-in, and enough episodes since the last exploit (or start)."""
  return frames >= burn_in_frames and episodes_since_change >= ready_episodes


def should_exploit(own_fitness: float, other_fitness: float, threshold: float) -> bool:
  """True when the other member is better by more than `threshold` (0.05:
  5 %), relative to the magnitude of our own fitness so that negative
  fitnesses (returns below zero) compare the same way."""
  if other_fitness is None or not math.isfinite(other_fitness):
    return False
  if own_fitness is None or not math.isfinite(own_fitness):
    return True
  return other_fitness - own_fitness > threshold * max(abs(own_fitness), 1e-8)


def pick_other(rng: np.random.Generator, own: int, candidates: Sequence[int]):
  """Another member drawn uniformly at random (None if there is none)."""
  others = [m for m in candidates if m != own]
  return int(rng.choice(others)) if others else None


def explore(rng: np.random.Generator, hyperparameters: Dict[str, float],
            ranges: Dict[str, Tuple[float, float]], factor: float = 1.2,
            probability: float = 0.33) -> Dict[str, float]:
  """Each hyperparameter, with `probability`, multiplied by `factor` or
  1/`factor` (even odds), then clipped to its range."""
  out = {}
  for name, value in hyperparameters.items():
    if rng.uniform() < probability:
      value = value * factor if rng.uniform() < 0.5 else value / factor
    low, high = ranges.get(name, (-math.inf, math.inf))
    out[name] = float(min(max(value, low), high))
  return out
