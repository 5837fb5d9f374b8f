"""The trajectory queue: a Reverb FIFO table on the learner and its tf.data input.

Actors write unrolls (see `impala_tf.trajectories`) into a queue table:
FIFO sampling, each item sampled exactly once and then removed, and a rate
limiter that blocks writers while the queue is full. Memory is bounded by
`queue_capacity` items, and a full queue slows actors down rather than
letting the data go stale.
"""

import reverb
import tensorflow as tf

from impala_tf import trajectories

TRAJECTORY_TABLE = 'trajectories'


def queue_table(config, signature) -> reverb.Table:
  return reverb.Table.queue(
      name=TRAJECTORY_TABLE, max_size=config.queue_capacity, signature=signature)


# How long the input pipeline waits for an unroll before its stream ends.
# The learner then checks for a stop request and re-opens the stream, so it
# stays responsive (and can checkpoint) while no actor is writing.
WAIT_FOR_DATA_MS = 2000


def make_dataset(server_address: str, config, num_replicas: int = 1) -> tf.data.Dataset:
  """Time-major batches [T(+1), batch_size / num_replicas, ...] from the queue.

  Each batch is `items_per_batch / num_replicas` actor unrolls of
  `envs_per_actor` trajectories, merged along the batch dimension: one
  replica's share of the global batch. The reshaping runs in the tf.data
  threads and batches are prefetched, so the train step does not wait on
  Python.
  """
  if config.items_per_batch % num_replicas:
    raise ValueError(
        f'batch_size / envs_per_actor = {config.items_per_batch} unrolls per batch cannot '
        f'be split evenly over {num_replicas} replicas.')
  dataset = reverb.TrajectoryDataset.from_table_signature(
      server_address=server_address,
      table=TRAJECTORY_TABLE,
      # One in flight per worker: a queue item sampled is gone from the
      # queue, so a deep request pipeline only adds policy lag.
      max_in_flight_samples_per_worker=1,
      rate_limiter_timeout_ms=WAIT_FOR_DATA_MS)
  dataset = dataset.map(lambda sample: sample.data)
  dataset = dataset.batch(config.items_per_batch // num_replicas, drop_remainder=True)
  dataset = dataset.map(trajectories.to_time_major)
  return dataset.prefetch(config.prefetch_batches)


def queue_size(client: reverb.Client) -> int:
  """Items waiting in the queue."""
  return client.server_info()[TRAJECTORY_TABLE].current_size
