"""Validation of how a batch is made of unrolls: whole unrolls per batch,
replayed and fresh shares, minibatches of whole trajectories, the replay
buffer's minimum size.

`ImpalaConfig.validate` calls `validate`; each refusal is one line naming
the field. R2D2's batch is `batch_size` sequences sampled from its own
replay table, not queue items: with architecture='r2d2' only the shared
`replay_min_size` range is checked here (`r2d2/validation.py` checks the rest).
"""


def validate(config, error):
  """Raises `error(message)` naming the first field that cannot make a batch."""
  size = config.replay_min_size
  if isinstance(size, bool) or not isinstance(size, int) or (
      not 0 <= size <= config.replay_capacity):
    raise error(f'replay_min_size must be in [0, replay_capacity = '
                f'{config.replay_capacity}], got {size!r}.')
  if config.architecture == 'r2d2':
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
