"""What a config for IMPALA must hold: synchronous runs (batched A2C per
trajectory) and the controlled policy lag. TensorFlow-free."""


def validate(config, error):
  """Raises `error(message)` naming the first field IMPALA cannot run with."""
  if config.policy_lag >= 0 and not config.synchronous:
    raise error('policy_lag >= 0 needs synchronous=true: otherwise the queue adds its '
                'own, varying lag.')
  if not config.synchronous:
    return
  fresh = config.fresh_items_per_batch * config.envs_per_actor
  if config.num_actors * config.envs_per_actor != fresh:
    raise error(
        'synchronous=True needs num_actors * envs_per_actor == the fresh trajectories of a '
        f'batch (batch_size without the replayed share), got {config.num_actors} * '
        f'{config.envs_per_actor} != {fresh}.')
  # Synchronous actors write one batch and wait for the step that consumes it.
  if config.steps_per_call > 1:
    raise error(f'steps_per_call must be 1 with synchronous=true (got '
                f'{config.steps_per_call}): one call would wait for '
                f'{config.steps_per_call} batches while the actors, having written one, '
                'wait for its update: a deadlock.')
  if config.publish_every_steps > 1:
    raise error(f'publish_every_steps must be 1 with synchronous=true (got '
                f'{config.publish_every_steps}): the actors wait for the weights of every '
                'step, and an unpublished step would never arrive: a deadlock.')
