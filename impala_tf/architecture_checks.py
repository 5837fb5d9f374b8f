"""Validation of how a config's actors and learner are wired together.

`ImpalaConfig.validate` calls `validate`: the architecture, synchronous
runs, the controlled policy lag, and the combinations of them that would
hang a run or make it act on other weights than it says. Each refusal is one
line naming the field.
"""

from impala_tf import choices


def validate(config, error):
  """Raises `error(message)` for the first combination that cannot run."""
  lag = config.policy_lag
  if isinstance(lag, bool) or not isinstance(lag, int) or lag < -1:
    raise error(f'policy_lag must be -1 (uncontrolled) or >= 0, got {lag!r}.')
  if config.architecture not in choices.ARCHITECTURES:
    raise error(f'architecture must be one of {choices.ARCHITECTURES}, got '
                f'{config.architecture!r}.')
  if config.architecture == 'a2c_sync_step':
    _check_a2c_sync_step(config, error)
  if config.architecture == 'a3c':
    _check_a3c(config, error)
  if config.jit_compile and (config.strategy != 'default' or config.architecture == 'a3c'):
    raise error("jit_compile=true compiles the IMPALA learner step on one device: it needs "
                f"strategy='default' (got {config.strategy!r}; the TPU strategy compiles its "
                "replica functions itself) and not architecture='a3c'.")
  if lag >= 0 and not config.synchronous:
    raise error('policy_lag >= 0 needs synchronous=true: otherwise the queue adds its '
                'own, varying lag.')
  if config.synchronous:
    _check_synchronous(config, error)


def _check_a2c_sync_step(config, error):
  clashes = [name for name, bad in (
      ('synchronous', config.synchronous), ('replay_fraction', config.replay_fraction > 0),
      ('strategy', config.strategy != 'default'), ('policy_lag', config.policy_lag >= 0),
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


def _check_a3c(config, error):
  clashes = [name for name, bad in (
      ('synchronous', config.synchronous), ('popart', config.popart),
      ('replay_fraction', config.replay_fraction > 0), ('num_epochs', config.num_epochs != 1),
      ('num_minibatches', config.num_minibatches != 1),
      ('observation_normalization', config.observation_normalization),
      ('strategy', config.strategy != 'default'), ('policy_lag', config.policy_lag >= 0))
      if bad]
  if clashes:
    raise error(f"architecture='a3c' applies each actor's gradient as it comes: it "
                f'does not combine with {", ".join(clashes)} (leave them at their '
                'defaults).')


def _check_synchronous(config, error):
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
