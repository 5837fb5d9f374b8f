"""FTW's config section: `config.ftw` (`--config.ftw.FIELD=VALUE`).

The For The Win agent (Jaderberg et al. 2019): a fast recurrent core every
step and a slow one every τ steps whose state gives the Gaussian prior of
the fast core's latent. Where the paper fixes a value the default is the
paper's and the comment says so; the others say "ours" and docs/ftw.md
gives the reason. PBT evolves τ, the two KL weights and the fast→slow
gradient scale per member (docs/ftw.md). TensorFlow-free.
"""

import dataclasses
import math
from typing import Tuple

from impala_tf import field_checks

_PREFIX = 'ftw.'
# Game points of Capture the Flag (`impala_tf.ctf.events.EVENTS`; a test
# checks the two agree).
NUM_EVENTS = 13


@dataclasses.dataclass
class FtwConfig:
  """The FTW hyperparameters of a run."""

  # Units of the fast and the slow LSTM (ours: the paper's cores are far
  # larger, for 3-D first-person frames).
  fast_units: int = 128
  slow_units: int = 128
  # |z|: the latent the fast core's posterior gives and the policy acts on
  # (ours).
  latent_size: int = 32
  # Hidden units of the prior and posterior MLPs (ours).
  hidden_size: int = 128
  # τ: the slow core ticks at an episode's steps 0, τ, 2τ, ... (PBT evolves
  # it as an integer; 10 is ours, inside the range PBT searches).
  slow_period: int = 10
  # Weight of KL(posterior ‖ prior), summed over steps (ours).
  kl_cost: float = 1e-3
  # Weight of the prior's regulariser KL(prior ‖ N(0, I)) (ours).
  prior_cost: float = 1e-4
  # Scale of the gradient the slow core passes back into the fast core's
  # state it reads (1: the whole gradient; 0: none). Ours.
  fast_to_slow_gradient_scale: float = 0.1
  # The internal reward's weight of each game point, in the order of
  # `impala_tf.ctf.events.EVENTS` (picked_up, captured, returned, the
  # teammate_ three, the opponent_ three, tagged_opponent,
  # tagged_opponent_with_flag, was_tagged, was_tagged_with_flag). The agent
  # maximises the weighted points, not the game score; PBT evolves the
  # vector. Ours: the team reward (±1 per capture) with small shaping terms
  # for picking up, returning and tagging, which random play scores often
  # on the small arena.
  event_weights: Tuple[float, ...] = (0.2, 1.0, 0.1, 0.0, 1.0, 0.0, 0.0, -1.0, 0.0, 0.05, 0.1,
                                      0.0, -0.1)
  # Bounds of the Gaussians' log standard deviations (numerical safety).
  log_std_min: float = -6.0
  log_std_max: float = 2.0

  def validate(self, error):
    """Raises `error(message)` naming the first invalid field."""
    for name in ('fast_units', 'slow_units', 'latent_size', 'hidden_size', 'slow_period'):
      field_checks.positive(self, name, error, prefix=_PREFIX)
    in_range = lambda *args, **kw: field_checks.in_range(self, *args, error=error,
                                                         prefix=_PREFIX, **kw)
    in_range('kl_cost', 0.0, math.inf)
    in_range('prior_cost', 0.0, math.inf)
    in_range('fast_to_slow_gradient_scale', 0.0, 1.0)
    if len(self.event_weights) != NUM_EVENTS:
      raise error(f'ftw.event_weights needs one weight per game point ({NUM_EVENTS}, '
                  f'impala_tf/ctf/events.py), got {len(self.event_weights)}.')
    if not self.log_std_min < self.log_std_max:
      raise error(f'ftw.log_std_min ({self.log_std_min}) must be below '
                  f'ftw.log_std_max ({self.log_std_max}).')
