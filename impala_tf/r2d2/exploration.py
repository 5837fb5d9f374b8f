"""R2D2's actors explore ε-greedily, each with its own ε (Ape-X's ladder).

Actor i of N acts with ε_i = base^(1 + α·i/(N − 1)), base = 0.4 and α = 7
(the paper's Section 2.3, after Horgan et al. 2018): from 0.4 for actor 0
down to 0.4⁸ ≈ 0.00066 for the last one, so some actors explore broadly and
some nearly follow the greedy policy.
"""

import numpy as np


def actor_epsilon(index: int, num_actors: int, base: float = 0.4, alpha: float = 7.0) -> float:
  """ε of actor `index` of `num_actors` (a single actor gets `base`)."""
  if not 0 <= index < num_actors:
    raise ValueError(f'actor index must be in [0, {num_actors}), got {index}.')
  if num_actors == 1:
    return base
  return float(base ** (1.0 + alpha * index / (num_actors - 1)))


def epsilon_greedy(q_values, epsilon: float, rng: np.random.Generator):
  """Actions [B] from Q values [B, A]: greedy, or uniform with probability ε."""
  q_values = np.asarray(q_values)
  greedy = np.argmax(q_values, axis=-1)
  explore = rng.uniform(size=greedy.shape) < epsilon
  return np.where(explore, rng.integers(0, q_values.shape[-1], greedy.shape), greedy)
