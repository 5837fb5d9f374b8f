"""The trajectory queue: a Reverb FIFO table on the learner and its tf.data input.

Actors write unrolls (see `impala_tf.trajectories`) into a queue table:
FIFO sampling, each item sampled exactly once and then removed, and a rate
limiter that blocks writers while the queue is full. Memory is bounded by
`queue_capacity` items, and a full queue slows actors down rather than
letting the data go stale.

With experience replay on (`replay_fraction` > 0) actors also write every
unroll into a replay table (the same data: Reverb stores it once): uniform
sampling with replacement, the oldest evicted beyond `replay_capacity`, and
inserts never blocked. A batch is then its fresh unrolls from the queue
followed by its replayed ones.
"""

import reverb
import tensorflow as tf

from impala_tf import trajectories

TRAJECTORY_TABLE = 'trajectories'
REPLAY_TABLE = 'replay'


def queue_table(config, signature) -> reverb.Table:
  return reverb.Table.queue(
      name=TRAJECTORY_TABLE, max_size=config.queue_capacity, signature=signature)


def replay_table(config, signature) -> reverb.Table:
  return reverb.Table(
      name=REPLAY_TABLE,
      sampler=reverb.selectors.Uniform(),
      remover=reverb.selectors.Fifo(),
      max_size=config.replay_capacity,
      rate_limiter=reverb.rate_limiters.MinSize(1),
      signature=signature)


def tables(config, signature):
  """The learner's trajectory tables: the queue, and the replay buffer if on."""
  return [queue_table(config, signature)] + (
      [replay_table(config, signature)] if config.replay_fraction > 0 else [])


# How long one sample request waits before its stream ends and a new one is
# opened: the input threads wake up regularly (and notice a stopped server).
STREAM_TIMEOUT_MS = 2000


def make_dataset(server_address: str, config, num_replicas: int = 1) -> tf.data.Dataset:
  """Time-major batches [T(+1), batch_size / num_replicas, ...] from the queue.

  Each batch is `items_per_batch / num_replicas` actor unrolls of
  `envs_per_actor` trajectories, merged along the batch dimension: one
  replica's share of the global batch, its fresh unrolls first, then its
  replayed ones. The reshaping runs in the tf.data
  threads and batches are prefetched, so the train step does not wait on
  Python.

  The stream never ends: each Reverb stream times out after
  STREAM_TIMEOUT_MS without data and the next one is opened (flat_map over
  an endless sequence), and batching happens after that, so an unroll taken
  from the queue is never dropped with a half-filled batch while actors
  stall. A `next()` on this dataset therefore blocks until a whole batch
  exists; the learner asks only when the queue holds enough (`available`).
  """
  fresh, replayed = config.fresh_items_per_batch, config.replayed_items_per_batch
  if fresh % num_replicas or replayed % num_replicas:
    raise ValueError(
        f'{fresh} fresh and {replayed} replayed unrolls per batch cannot be split evenly '
        f'over {num_replicas} replicas.')

  def stream(table):
    def make(_):
      return reverb.TrajectoryDataset.from_table_signature(
          server_address=server_address,
          table=table,
          # One worker with one request in flight: a queue item sampled is
          # gone from the queue, so sampling ahead only adds policy lag.
          num_workers_per_iterator=1,
          max_in_flight_samples_per_worker=1,
          rate_limiter_timeout_ms=STREAM_TIMEOUT_MS)
    items = tf.data.Dataset.from_tensors(0).repeat().flat_map(make)
    return items.map(lambda sample: sample.data)

  dataset = stream(TRAJECTORY_TABLE).batch(fresh // num_replicas, drop_remainder=True)
  if replayed:
    old = stream(REPLAY_TABLE).batch(replayed // num_replicas, drop_remainder=True)
    dataset = tf.data.Dataset.zip((dataset, old)).map(
        lambda new, old: tf.nest.map_structure(lambda a, b: tf.concat([a, b], 0), new, old))
  dataset = dataset.map(trajectories.to_time_major)
  if config.prefetch_batches:
    dataset = dataset.prefetch(config.prefetch_batches)
  # tf.data's default rewrites turn maps parallel and add prefetch buffers:
  # batches taken from the queue ahead of need, each one more step of
  # policy lag. Buffering here is exactly `prefetch_batches`.
  options = tf.data.Options()
  options.experimental_optimization.map_parallelization = False
  options.experimental_optimization.inject_prefetch = False
  options.autotune.enabled = False
  options.experimental_optimization.apply_default_optimizations = False
  return dataset.with_options(options)


def queue_size(client: reverb.Client, table: str = TRAJECTORY_TABLE) -> int:
  """Items waiting in the queue."""
  return client.server_info()[table].current_size


def queue_counts(client: reverb.Client, table: str = TRAJECTORY_TABLE):
  """(items waiting in the queue, items sampled from it so far)."""
  info = client.server_info()[table]
  return info.current_size, info.rate_limiter_info.sample_stats.completed
