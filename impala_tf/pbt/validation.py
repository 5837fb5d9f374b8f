"""Validation of the PBT fields of `ImpalaConfig`, and of a config for a member.

`ImpalaConfig.validate` calls `validate_fields`; the member controller and
`binaries/pbt_local.py` call `check_member` before a population starts.
"""

import math

from impala_tf import field_checks
from impala_tf import learning_checks
from impala_tf.pbt import rules

RANGE_FIELDS = ('pbt_learning_rate_range', 'pbt_entropy_cost_range',
                'pbt_optimizer_epsilon_range', 'pbt_grad_clip_norm_range')


def validate_fields(config, error):
  """Raises `error(message)` naming the first invalid PBT field."""
  for name in ('pbt_hyperparameters',) + RANGE_FIELDS:
    if isinstance(getattr(config, name), list):
      setattr(config, name, tuple(getattr(config, name)))
  if (not isinstance(config.pbt_hyperparameters, tuple)
      or not set(config.pbt_hyperparameters) <= set(rules.SEARCHABLE)):
    raise error(f'pbt_hyperparameters must be a tuple of names from {rules.SEARCHABLE}, '
                f'got {config.pbt_hyperparameters!r}.')
  for name in RANGE_FIELDS:
    value = getattr(config, name)
    if (not isinstance(value, tuple) or len(value) != 2
        or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in value)
        or not 0 < value[0] <= value[1]):
      raise error(f'{name} must be (low, high) with 0 < low <= high, got {value!r}.')
  for name in ('pbt_burn_in_frames', 'pbt_ready_episodes'):
    field_checks.non_negative_integer(config, name, error)
  for name in ('pbt_interval_frames', 'pbt_min_episodes'):
    field_checks.positive(config, name, error)
  if config.pbt_min_episodes > max(config.pbt_ready_episodes, 1):
    raise error(f'pbt_min_episodes ({config.pbt_min_episodes}) must not exceed '
                f'pbt_ready_episodes ({config.pbt_ready_episodes}): a ready member must have '
                'a fitness to compare.')
  for name, low, high in (('pbt_exploit_margin', 0.0, math.inf),
                          ('pbt_perturb_factor', 1.0, math.inf),
                          ('pbt_perturb_probability', 0.0, 1.0)):
    value = getattr(config, name)
    if (isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value)
        or not low <= value <= high):
      raise error(f'{name} must be in [{low}, {high}], got {value!r}.')
  value = config.pbt_stale_seconds
  if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
    raise error(f'pbt_stale_seconds must be a positive number, got {value!r}.')
  if not isinstance(config.pbt_sample_initial, bool):
    raise error(f'pbt_sample_initial must be true or false, got {config.pbt_sample_initial!r}.')


def check_member(config):
  """Raises ValueError when `config` cannot run as a population member."""
  reason = learning_checks.FIXED_ENTROPY_COST.get(config.architecture)
  if reason and 'entropy_cost' in config.pbt_hyperparameters:
    raise ValueError('PBT cannot search entropy_cost with architecture='
                     f'{config.architecture!r}: {reason}; drop it from pbt_hyperparameters.')
