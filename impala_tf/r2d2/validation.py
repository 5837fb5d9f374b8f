"""Validation of the R2D2 fields of `ImpalaConfig`, and of a config for R2D2.

`ImpalaConfig.validate` calls `validate`. The fields are checked in every
config (a bad value is wrong whichever agent runs); what R2D2 needs of the
rest of the config only with architecture='r2d2'. Each refusal is one line
naming the field. TensorFlow-free.
"""

import math

from impala_tf import field_checks


def validate(config, error):
  """Raises `error(message)` naming the first field R2D2 cannot run with."""
  for name in ('r2d2_sequence_length', 'r2d2_sequence_period', 'r2d2_n_step',
               'r2d2_target_period', 'r2d2_replay_capacity', 'r2d2_replay_min_size',
               'r2d2_head_hidden'):
    field_checks.positive(config, name, error)
  field_checks.non_negative_integer(config, 'r2d2_burn_in', error)
  in_range = lambda *args, **kw: field_checks.in_range(config, *args, error=error, **kw)
  in_range('r2d2_value_rescaling_epsilon', 0.0, 1.0)
  in_range('r2d2_priority_eta', 0.0, 1.0)
  in_range('r2d2_priority_exponent', 0.0, math.inf)
  in_range('r2d2_importance_sampling_exponent', 0.0, 1.0)
  in_range('r2d2_samples_per_insert', 0.0, math.inf, low_open=True)
  in_range('r2d2_epsilon_base', 0.0, 1.0)
  in_range('r2d2_epsilon_alpha', 0.0, math.inf)
  if config.r2d2_sequence_period > config.r2d2_sequence_length:
    raise error(f'r2d2_sequence_period ({config.r2d2_sequence_period}) must not exceed '
                f'r2d2_sequence_length ({config.r2d2_sequence_length}): every step must be in '
                'a trained part of some sequence.')
  if config.r2d2_n_step >= config.r2d2_sequence_length:
    raise error(f'r2d2_n_step ({config.r2d2_n_step}) must be below r2d2_sequence_length '
                f'({config.r2d2_sequence_length}): a trained step needs the state n steps on '
                'in its sequence.')
  if config.architecture == 'r2d2':
    _check_r2d2_run(config, error)


def _check_r2d2_run(config, error):
  if config.r2d2_replay_capacity < config.r2d2_replay_min_size:
    raise error(f'r2d2_replay_capacity ({config.r2d2_replay_capacity} sequences) cannot hold '
                f'r2d2_replay_min_size ({config.r2d2_replay_min_size}) sequences: sampling '
                'would never start.')
  if config.r2d2_replay_min_size < config.batch_size:
    raise error(f'r2d2_replay_min_size ({config.r2d2_replay_min_size}) must be at least '
                f'batch_size ({config.batch_size}): the first batch samples from that many '
                'sequences.')
  clashes = [name for name, bad in (
      ('synchronous', config.synchronous), ('policy_lag', config.policy_lag >= 0),
      ('replay_fraction', config.replay_fraction > 0), ('popart', config.popart),
      ('tasks', config.num_tasks > 1),
      ('jit_compile', config.jit_compile), ('steps_per_call', config.steps_per_call != 1),
      ('num_epochs', config.num_epochs != 1), ('num_minibatches', config.num_minibatches != 1),
      ('observation_normalization', config.observation_normalization),
      ('task_action_masks', config.task_action_masks)) if bad]
  if config.strategy == 'tpu':
    raise error("architecture='r2d2' does not support strategy='tpu': its replay samples "
                "carry uint64 keys, which a TPU does not hold; use 'default' or 'mirrored'.")
  if clashes:
    raise error(f"architecture='r2d2' does not support {clashes[0]}="
                f'{getattr(config, clashes[0])!r}: it is an IMPALA learner option.')
