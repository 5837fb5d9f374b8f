"""Which members play together: FTW's Elo-based matchmaking.

Each match has a focal member (drawn uniformly, so every member's learner
gets games). Every other slot, teammate or opponent, is filled by a member
j drawn with probability proportional to

    exp(−(E(focal beats j) − ½)² / (2σ²)),

E being Elo's expected score (`elo.expected_score`): members whose games
against the focal one are near even are drawn most, members far stronger
or weaker rarely (FTW's matchmaking, Jaderberg et al. 2019, Supplementary
"Matchmaking", as we read it). The focal member is among the candidates:
it may play copies of itself.
"""

from typing import List, Tuple

import numpy as np

from impala_tf.selfplay import elo

# σ: ours (docs/ftw.md). A member 190 Elo points stronger than the focal
# one (E = 0.75) is drawn a third as often as an equal.
DEFAULT_SIGMA = 1.0 / 6.0


def slot_probabilities(ratings, focal: int, sigma: float) -> np.ndarray:
  """[P] probabilities of each member filling one slot beside or against
  member `focal`."""
  if sigma <= 0:
    raise ValueError(f'sigma must be positive, got {sigma}.')
  ratings = np.asarray(ratings, np.float64)
  p_win = elo.expected_score(ratings[focal], ratings)
  weights = np.exp(-np.square(p_win - 0.5) / (2.0 * sigma * sigma))
  return weights / weights.sum()


def draw_match(ratings, players_per_team: int, sigma: float,
               rng: np.random.Generator) -> Tuple[List[int], List[int]]:
  """(team A, team B): members per slot; team A's first slot is the focal
  member, drawn uniformly."""
  if players_per_team < 1:
    raise ValueError(f'players_per_team must be at least 1, got {players_per_team}.')
  num = len(ratings)
  focal = int(rng.integers(num))
  p = slot_probabilities(ratings, focal, sigma)
  others = rng.choice(num, size=2 * players_per_team - 1, p=p).tolist()
  return [focal] + others[:players_per_team - 1], others[players_per_team - 1:]
