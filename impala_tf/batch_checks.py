"""Validation of how a batch is made of unrolls: whole unrolls per batch,
replayed and fresh shares, minibatches of whole trajectories, the replay
buffer's minimum size.

`ImpalaConfig.validate` calls `validate`; each refusal is one line naming
the field. These are batches of actor unrolls; for an agent whose batches
are something else (R2D2's replay sequences, `AgentInfo.batch_of`) only the
shared `replay_min_size` range is checked here.
"""

from impala_tf.agents import registry


def validate(config, error):
  """Raises `error(message)` naming the first field that cannot make a batch."""
  size = config.replay_min_size
  if isinstance(size, bool) or not isinstance(size, int) or (
      not 0 <= size <= config.replay_capacity):
    raise error(f'replay_min_size must be in [0, replay_capacity = '
                f'{config.replay_capacity}], got {size!r}.')
  entry = registry.AGENTS.get(config.architecture)
  if entry is not None and entry.batch_of != 'unrolls':
    return
  if config.batch_size % config.envs_per_actor:
    raise error(
        f'batch_size ({config.batch_size}) must be a multiple of envs_per_actor '
        f'({config.envs_per_actor}): each queue item holds one actor\'s unroll of '
        'envs_per_actor trajectories.')
  replayed = config.replay_fraction * config.items_per_batch
  if abs(replayed - round(replayed)) > 1e-9 or round(replayed) >= config.items_per_batch:
    raise error(
        f'replay_fraction ({config.replay_fraction}) times the {config.items_per_batch} '
        'unrolls of a batch (batch_size / envs_per_actor) must be a whole number of unrolls, '
        'leaving at least one fresh unroll.')
  if config.batch_size % config.num_minibatches:
    raise error(
        f'batch_size ({config.batch_size}) must be a multiple of num_minibatches '
        f'({config.num_minibatches}): a minibatch is a set of whole trajectories.')
