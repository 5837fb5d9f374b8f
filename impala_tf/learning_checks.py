"""Validation of the loss, optimiser and schedule fields of `ImpalaConfig`.

`ImpalaConfig.validate` calls `validate`; each refusal is one line naming
the field.
"""

import math

from impala_tf import choices
from impala_tf import field_checks
from impala_tf.agents import registry


def validate(config, error):
  """Raises `error(message)` naming the first invalid learning field."""
  in_range = lambda *args, **kw: field_checks.in_range(config, *args, error=error, **kw)
  one_of = lambda name, options: field_checks.one_of(config, name, options, error)
  in_range('discount', 0.0, 1.0)
  for name in ('clip_rho_threshold', 'clip_pg_rho_threshold', 'clip_c_threshold'):
    in_range(name, 0.0, math.inf, low_open=True)
  for name in ('baseline_cost', 'entropy_cost', 'ppo_clip'):
    in_range(name, 0.0, math.inf)
  in_range('vtrace_lambda', 0.0, 1.0)
  in_range('popart_step_size', 0.0, 1.0, low_open=True)
  in_range('popart_sigma_min', 0.0, math.inf, low_open=True)
  in_range('popart_sigma_max', config.popart_sigma_min, math.inf)
  in_range('replay_fraction', 0.0, 1.0)
  in_range('learning_rate', 0.0, 1.0, low_open=True)
  in_range('rmsprop_decay', 0.0, 1.0)
  in_range('rmsprop_epsilon', 0.0, math.inf, low_open=True)
  in_range('rmsprop_momentum', 0.0, 1.0)
  in_range('rmsprop_initial_mean_square', 0.0, math.inf)
  in_range('adam_beta1', 0.0, 1.0)
  in_range('adam_beta2', 0.0, 1.0)
  in_range('adam_epsilon', 0.0, math.inf, low_open=True)
  in_range('lr_end_factor', 0.0, 1.0)
  in_range('entropy_end_factor', 0.0, 1.0)
  one_of('correction', choices.CORRECTIONS)
  one_of('reward_clipping', choices.REWARD_CLIPPINGS)
  one_of('loss_reduction', choices.LOSS_REDUCTIONS)
  one_of('optimizer', choices.OPTIMIZERS)
  one_of('lr_schedule', choices.SCHEDULES)
  one_of('entropy_schedule', choices.SCHEDULES)
  entry = registry.AGENTS.get(config.architecture)
  fixed = entry.fixed_entropy_cost if entry else ''
  if config.entropy_schedule != 'constant' and fixed:
    raise error(f"entropy_schedule must be 'constant' with architecture="
                f"{config.architecture!r}: {fixed}.")
  start = config.entropy_decay_start_frames
  if config.entropy_schedule != 'constant' and not 0 <= start < config.lr_decay_frames:
    raise error(f'entropy_decay_start_frames must be in [0, lr_decay_frames='
                f'{config.lr_decay_frames}), where the decay ends; got {start!r}.')
  if config.ppo_clip > 0 and config.correction != 'vtrace':
    raise error(f"ppo_clip > 0 needs correction='vtrace', got {config.correction!r}.")
  in_range('grad_clip_norm', 0.0, math.inf, low_open=True)
