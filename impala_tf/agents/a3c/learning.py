"""Distributed A3C from IMPALA's components: actors send gradients, not trajectories.

The paper's baseline that communicates gradients (Table 1, "A3C"; Mnih et
al. 2016 in its distributed form): every actor keeps its own copy of the
network, computes the n-step actor-critic gradients of the loss on its own
fresh unroll (its `GraphPolicy` with `gradients=True`; the data is on-policy,
so V-trace's targets are the n-step returns), and sends the flat gradient to
the learner through a Reverb queue. The learner applies each gradient as it
arrives, clipped by global norm, with its optimiser, and publishes the new
weights; the actor fetches them before its next unroll.

Here are the gradient queue and the learner's compiled step; the actor's
loop is in `impala_tf.actor`.
"""

import reverb
import tensorflow as tf

from impala_tf import optimizers
from impala_tf import train_step as train_step_lib
from impala_tf import trajectories

GRADIENT_TABLE = 'gradients'


def gradient_signature(num_parameters: int, unroll_length: int, num_envs: int):
  """One item: a flat gradient, its loss statistics, the weights version it
  was computed with, and the unroll's episode columns for steps 1..T."""
  t, e = unroll_length, num_envs
  return {
      'gradient': tf.TensorSpec([num_parameters], tf.float32),
      'sums': tf.TensorSpec([len(train_step_lib._SUMS)], tf.float32),  # pylint: disable=protected-access
      'weights_version': tf.TensorSpec([], tf.int64),
      **trajectories.episode_column_specs([t, e]),
  }


def gradient_table(config, signature) -> reverb.Table:
  # At most one gradient per actor waits: an actor blocks on a full queue,
  # as IMPALA's actors do, rather than computing on stale weights.
  return reverb.Table.queue(GRADIENT_TABLE, max_size=config.num_actors, signature=signature)


def make_dataset(server_address: str):
  """One gradient item at a time, never ending (see trajectory_queue)."""
  from impala_tf import trajectory_queue  # pylint: disable=g-import-not-at-top

  def stream(_):
    return reverb.TrajectoryDataset.from_table_signature(
        server_address=server_address, table=GRADIENT_TABLE, num_workers_per_iterator=1,
        max_in_flight_samples_per_worker=1,
        rate_limiter_timeout_ms=trajectory_queue.STREAM_TIMEOUT_MS)

  dataset = tf.data.Dataset.from_tensors(0).repeat().flat_map(stream)
  options = tf.data.Options()
  options.experimental_optimization.apply_default_optimizations = False
  options.autotune.enabled = False
  return dataset.map(lambda sample: sample.data).with_options(options)


class A3CStep(train_step_lib.TrainStep):
  """The learner's step for A3C: apply one actor's gradient.

  Same network, optimiser, hyperparameters, counters and statistics layout
  as `TrainStep` (so the learner reports and checkpoints it the same way);
  its call takes one gradient item instead of a batch of unrolls.
  """

  def __init__(self, config, env_spec, strategy):
    super().__init__(config, env_spec, strategy)
    variables = self.network.trainable_variables
    self._shapes = [v.shape for v in variables]
    self._sizes = [s.num_elements() for s in self._shapes]
    self.num_parameters = sum(self._sizes)

  @tf.function
  def __call__(self, iterator):
    config = self._config
    hp = self.hyperparameters
    item = next(iterator)
    grads = [tf.reshape(g, s) for g, s in zip(tf.split(item['gradient'], self._sizes),
                                               self._shapes)]
    groups = list(self._groups.values())
    group_norms = [tf.linalg.global_norm([grads[i] for i in idx]) for idx in groups]
    grads, grad_norm = tf.clip_by_global_norm(grads, hp.grad_clip_norm)
    sums = item['sums']
    nonfinite = _SUM_INDEX['nonfinite']
    finite = (sums[nonfinite] == 0.0) & tf.math.is_finite(grad_norm)
    learning_rate = hp.learning_rate * optimizers.learning_rate_factor(config, self.env_frames)
    self.optimizer.learning_rate.assign(learning_rate)
    num_vars = len(grads)
    squares = tf.cond(finite, lambda: tf.stack(self.optimizer.apply(grads)),
                      lambda: tf.zeros([num_vars]))
    skipped = 1 - tf.cast(finite, tf.int64)
    self.skipped_updates.assign_add(skipped)
    self.env_frames.assign_add(config.frames_per_learner_step)
    self.learner_steps.assign_add(1)
    update_norms = tf.stack([tf.sqrt(tf.reduce_sum(tf.gather(squares, idx))) for idx in groups])
    envs = tf.cast(tf.shape(item['last'])[1], tf.float32)
    head = tf.stack([
        1.0, tf.cast(skipped, tf.float32), learning_rate, grad_norm,
        tf.cast(item['weights_version'], tf.float32) * envs, envs])
    stats = tf.concat([head, sums, tf.stack(group_norms),
                       self._group_statistics(update_norms)], 0)
    episodes = trajectories.episode_rows(item)   # steps 1..T of the unroll
    return stats[None], [episodes]


_SUM_INDEX = {name: i for i, name in enumerate(train_step_lib._SUMS)}  # pylint: disable=protected-access
