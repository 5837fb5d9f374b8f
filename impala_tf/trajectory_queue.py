"""The trajectory queue: a Reverb FIFO table on the learner and its tf.data input.

Actors write unrolls (see `impala_tf.trajectories`) into a queue table:
FIFO sampling, each item sampled exactly once and then removed, and a rate
limiter that blocks writers while the queue is full. Memory is bounded by
`queue_capacity` items, and a full queue slows actors down rather than
letting the data go stale.

With experience replay on (`replay_fraction` > 0) a batch is its fresh
unrolls from the queue followed by its replayed ones, sampled uniformly with
replacement from a replay table of the `replay_capacity` most recent unrolls
the *learner* has taken: the input pipeline inserts a batch's fresh unrolls
when the train step takes the batch (after the prefetch buffer), so a
replayed unroll has always been trained on as fresh data before, and never
is one of its own batch's fresh unrolls or one still waiting in the queue
or the prefetch buffer. Until the table holds `replay_warmup_items`, each
batch's replayed share is a placeholder whose steps are all marked `last`:
the loss masks them out, so those batches train on their fresh unrolls
only, and no early unroll is replayed over and over.
"""

import math


import reverb
import tensorflow as tf

from impala_tf import trajectories
from impala_tf.agents import interface

TRAJECTORY_TABLE = 'trajectories'
REPLAY_TABLE = 'replay'


def queue_table(config, signature) -> reverb.Table:
  return reverb.Table.queue(
      name=TRAJECTORY_TABLE, max_size=config.queue_capacity, signature=signature)


def _one_step(signature):
  """An item signature as the learner inserts it: one step holding a whole
  unroll (a leading dimension of 1)."""
  return tf.nest.map_structure(lambda s: tf.TensorSpec([1, *s.shape], s.dtype), signature)


def replay_table(config, signature) -> reverb.Table:
  return reverb.Table(
      name=REPLAY_TABLE,
      sampler=reverb.selectors.Uniform(),
      remover=reverb.selectors.Fifo(),
      max_size=config.replay_capacity,
      rate_limiter=reverb.rate_limiters.MinSize(1),
      signature=_one_step(signature))


def tables(config, signature):
  """The learner's trajectory tables: the queue, and the replay buffer if on."""
  return [queue_table(config, signature)] + (
      [replay_table(config, signature)] if config.replay_fraction > 0 else [])


# How long one sample request waits before its stream ends and a new one is
# opened: the input threads wake up regularly (and notice a stopped server).
STREAM_TIMEOUT_MS = 2000


def make_dataset(server_address: str, config, num_replicas: int = 1,
                 signature=None) -> tf.data.Dataset:
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

  `signature` (the queue's item signature) is needed with replay on: it
  shapes the placeholder of the warm-up batches.
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
    dataset = _with_replay(dataset, stream(REPLAY_TABLE), server_address, config,
                           num_replicas, signature)
  else:
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


def _with_replay(new, replay_stream, server_address, config, num_replicas, signature):
  """Fresh batches `new` ([k, ...] items) → time-major batches with their
  replayed share, the fresh unrolls inserted into the replay table as the
  train step takes them."""
  if signature is None:
    raise ValueError('make_dataset needs the item signature when replay is on.')
  replayed = config.replayed_items_per_batch // num_replicas
  # Batches (of this pipeline) before the table holds the warm-up unrolls:
  # each replica's pipeline inserts its share, the table gets them all.
  warmup = math.ceil(config.replay_warmup_items / config.fresh_items_per_batch)
  placeholder = tf.nest.map_structure(lambda s: tf.zeros([replayed, *s.shape], s.dtype),
                                      signature)
  old = tf.data.Dataset.from_tensors((True, placeholder)).repeat(warmup).concatenate(
      replay_stream.map(lambda item: tf.nest.map_structure(lambda x: x[0], item))
      .batch(replayed, drop_remainder=True).map(lambda items: (False, items)))
  dataset = tf.data.Dataset.zip((new, old))
  if config.prefetch_batches:
    dataset = dataset.prefetch(config.prefetch_batches)

  def take(new_items, old):
    is_placeholder, old_items = old
    client = reverb.TFClient(server_address)
    inserts = [client.insert(
        tf.nest.flatten(tf.nest.map_structure(lambda x, i=i: x[i], new_items)),
        tf.constant([REPLAY_TABLE]), tf.constant([1.0], tf.float64))
               for i in range(config.fresh_items_per_batch // num_replicas)]
    # A placeholder's steps are all `last`: masked out of the loss, no
    # episode ends counted (replayed unrolls never are).
    old_items = dict(old_items, last=old_items['last'] | is_placeholder)
    with tf.control_dependencies(inserts):
      items = tf.nest.map_structure(lambda a, b: tf.concat([a, b], 0), new_items, old_items)
      return trajectories.to_time_major(items)

  return dataset.map(take)


def queue_size(client: reverb.Client, table: str = TRAJECTORY_TABLE) -> int:
  """Items waiting in the queue."""
  return client.server_info()[table].current_size


def queue_counts(client: reverb.Client, table: str = TRAJECTORY_TABLE):
  """(items waiting in the queue, items sampled from it so far)."""
  info = client.server_info()[table]
  return info.current_size, info.rate_limiter_info.sample_stats.completed


def learner_input(address: str, config, signature) -> interface.LearnerInput:
  """The input of a learner whose actors fill this queue (IMPALA, MERLIN):
  the dataset of `make_dataset`, ready once the queue holds the items one
  call of the step consumes."""

  def dataset_fn(context):
    return make_dataset(address, config, context.num_replicas_in_sync, signature=signature)

  items = config.fresh_items_per_batch * config.steps_per_call
  return interface.LearnerInput(
      dataset_fn, interface.QueueReadiness(reverb.Client(address), TRAJECTORY_TABLE, items))
