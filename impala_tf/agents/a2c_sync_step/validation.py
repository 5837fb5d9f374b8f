"""What a config for batched A2C synchronous per step must hold (the
registry names the IMPALA options it refuses). TensorFlow-free."""


def validate(config, error):
  """Raises `error(message)` naming the first field it cannot run with."""
  clashes = [name for name, bad in (
      ('batch_size', config.batch_size != config.num_actors * config.envs_per_actor),
      ('tasks', config.num_tasks > 1)) if bad]
  if clashes:
    raise error("architecture='a2c_sync_step' steps num_actors × envs_per_actor "
                'environments as one batch (batch_size equal to that) on one device; '
                f'check {", ".join(clashes)}.')
  if config.steps_per_call > 1:
    raise error("steps_per_call must be 1 with architecture='a2c_sync_step': the "
                'generator would step the environments for the next batch before the '
                'previous batch\'s update is written, acting on older weights than it '
                'reports.')
