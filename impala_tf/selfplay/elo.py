"""Elo ratings of a population's members, from the matches they play.

A match is two teams of player slots, each slot played by a member (a
member may fill several slots, on either side: self-play). A team's rating
is the mean of its slots' ratings; Elo's expected score of team A against
team B is 1 / (1 + 10^((R_B − R_A) / 400)). After a match with outcome s
(1 A won, ½ a draw, 0 B won) every slot of A moves its member by
K (s − E) and every slot of B by −K (s − E), so a member playing itself
does not move, and the ratings' sum is kept.
"""

import numpy as np

SCALE = 400.0
# Elo's usual step; FTW does not give one (docs/ftw.md).
DEFAULT_K = 32.0
INITIAL_RATING = 1000.0


def expected_score(rating, other):
  """Elo's predicted probability that the player rated `rating` beats the
  one rated `other` (a draw counting one half)."""
  return 1.0 / (1.0 + 10.0 ** ((np.asarray(other, np.float64) - rating) / SCALE))


def match_expectation(ratings, team_a, team_b) -> float:
  """Team A's expected score against team B (members' indices per slot)."""
  ratings = np.asarray(ratings, np.float64)
  return float(expected_score(ratings[list(team_a)].mean(), ratings[list(team_b)].mean()))


def update(ratings, team_a, team_b, outcome: float, k: float = DEFAULT_K) -> np.ndarray:
  """New ratings after one match: `outcome` 1 (A won), 0.5 or 0 (B won)."""
  if outcome not in (0.0, 0.5, 1.0):
    raise ValueError(f'outcome must be 1 (team A won), 0.5 (a draw) or 0, got {outcome}.')
  if not len(team_a) or not len(team_b):
    raise ValueError(f'a match needs players on both teams, got {team_a} and {team_b}.')
  new = np.array(ratings, np.float64)
  step = k * (outcome - match_expectation(ratings, team_a, team_b))
  np.add.at(new, list(team_a), step)
  np.add.at(new, list(team_b), -step)
  return new


def outcome_of(team_a_score: float, team_b_score: float) -> float:
  """A match's outcome from the teams' scores (captures): 1, 0.5 or 0."""
  return 1.0 if team_a_score > team_b_score else 0.5 if team_a_score == team_b_score else 0.0
