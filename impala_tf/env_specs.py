"""What the network and the trajectory queue need to know of an environment."""

import dataclasses
from typing import Optional, Tuple

import gymnasium as gym
import numpy as np

from impala_tf import distributions


@dataclasses.dataclass(frozen=True)
class EnvSpec:
  """What the network and the trajectory queue need to know of an env."""
  observation_shape: Tuple[int, ...]
  observation_dtype: np.dtype
  action_space: gym.Space
  channels_first: bool  # observations are [C, H, W] frame stacks
  # bool [K, A]: the actions each task's policy may take (task_action_masks),
  # or None for all of them.
  action_masks: Optional[np.ndarray] = None

  @property
  def distribution(self):
    return distributions.for_action_space(self.action_space)
