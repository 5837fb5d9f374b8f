"""What a config for R2D2 must hold beyond its own section (`config.R2D2Config`
checks that one). The registry calls `validate` for a config that chooses
R2D2, after refusing the IMPALA options it lacks. TensorFlow-free.
"""


def validate(config, error):
  """Raises `error(message)` naming the first field R2D2 cannot run with
  (the registry has already refused the IMPALA options it lacks)."""
  if config.r2d2.replay_capacity < config.r2d2.replay_min_size:
    raise error(f'r2d2.replay_capacity ({config.r2d2.replay_capacity} sequences) cannot hold '
                f'r2d2.replay_min_size ({config.r2d2.replay_min_size}) sequences: sampling '
                'would never start.')
  if config.r2d2.replay_min_size < config.batch_size:
    raise error(f'r2d2.replay_min_size ({config.r2d2.replay_min_size}) must be at least '
                f'batch_size ({config.batch_size}): the first batch samples from that many '
                'sequences.')
  if config.num_tasks > 1:
    raise error(f"architecture='r2d2' does not support tasks={config.tasks!r}: it learns one "
                'task.')
  if config.strategy == 'tpu':
    raise error("architecture='r2d2' does not support strategy='tpu': its replay samples "
                "carry uint64 keys, which a TPU does not hold; use 'default' or 'mirrored'.")
