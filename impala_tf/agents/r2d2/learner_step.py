"""R2D2's learner step: a sampled batch of sequences, one compiled update, the
priorities written back.

The step is an `interface.LearnerStep` (`network`, `optimizer`,
`hyperparameters`, the counters, `checkpointables`, `stat_names`,
`__call__(iterator)`, `metrics`, `frames_of_call`), so the shared learner
loop runs it as it runs IMPALA's. Per call:
  1. the next batch of B sequences from the prioritised replay table (with
     each one's key and sampling probability);
  2. the compiled update: burn-in, the n-step double-Q loss with value
     rescaling (`learning.sequence_loss`), Adam, the target network's copy
     every `r2d2.target_period` updates; non-finite updates are skipped and
     counted, as IMPALA's are. Under a `tf.distribute` strategy each replica
     trains on its share of the batch and the gradients are summed, as in
     IMPALA's step;
  3. the sequences' new priorities, p = η max|δ| + (1 − η) mean|δ|, written
     back to Reverb (a sequence whose priority is not finite is deleted);
  4. the frames and finished episodes actors reported since (`progress`).
"""

from absl import logging
import numpy as np
import reverb
import tensorflow as tf

from impala_tf import optimizers
from impala_tf import train_step as train_step_lib
from impala_tf.agents import interface
from impala_tf.agents.r2d2 import learning
from impala_tf.agents.r2d2 import networks as r2d2_networks
from impala_tf.agents.r2d2 import replay

# Sums over the global batch (each replica's, all-reduced), in this order.
_SUMS = ('loss', 'q_max', 'steps', 'td_abs', 'trained', 'priority', 'importance_weight',
         'sequences', 'weights_version')
STAT_NAMES = ('loss', 'q_mean', 'td_abs_mean', 'priority_mean', 'importance_weight_mean',
              'trained_steps', 'skipped', 'grad_norm', 'learning_rate', 'weights_version')
# Then one per trainable variable: its gradient's RMS over the optimizer's ε.
GRAD_RMS_PREFIX = 'grad_rms_over_epsilon/'


def variable_tag(variable) -> str:
  """A variable's name as a TensorBoard tag ('dense/kernel:0' -> 'dense/kernel')."""
  return variable.name.split(':')[0]


def _time_major(x):
  return tf.transpose(x, [1, 0] + list(range(2, x.shape.rank)))


class R2D2Step(interface.LearnerStep):
  """The R2D2 learner's state and its compiled update.

  Build it inside `strategy.scope()`. Under a strategy with R replicas each
  replica reads batch_size / R sequences of every batch (the learner's
  `distribute_datasets_from_function`), computes its share of the loss, and
  the gradients and statistics are summed over the replicas, so the update
  is the one a single device makes on the whole batch. The replicas'
  priorities are gathered and written back with their keys.
  """

  def __init__(self, config, env_spec, strategy):
    self._config = config
    self._strategy = strategy
    replicas = strategy.num_replicas_in_sync
    if config.batch_size % replicas:
      raise ValueError(f'batch_size ({config.batch_size}) must be a multiple of the '
                       f'{replicas} replicas of strategy={config.strategy!r}: each reads '
                       'batch_size / replicas sequences.')
    self.env_spec = env_spec
    num_actions = env_spec.distribution.num_actions
    make = lambda: r2d2_networks.make_network(config, env_spec.observation_shape, num_actions,
                                              env_spec.channels_first)
    self.network = make()
    self.target_network = make()
    self.target = learning.TargetNetwork(self.network, self.target_network,
                                         config.r2d2.target_period)
    self.optimizer = optimizers.make_optimizer(config, self.network.trainable_variables)
    self.hyperparameters = train_step_lib.Hyperparameters(config)
    counter = lambda name: tf.Variable(0, dtype=tf.int64, trainable=False, name=name)
    self.env_frames = counter('env_frames')          # frames actors stepped
    self.learner_steps = counter('learner_steps')    # batches trained on
    self.skipped_updates = counter('skipped_updates')
    self.stat_names = STAT_NAMES + tuple(GRAD_RMS_PREFIX + variable_tag(v)
                                         for v in self.network.trainable_variables)
    self.checkpointables = dict(
        network=self.network, target_network=self.target_network,
        target_updates=self.target.updates, optimizer=self.optimizer,
        hyperparameters=self.hyperparameters, env_frames=self.env_frames,
        learner_steps=self.learner_steps, skipped_updates=self.skipped_updates)
    self._client = None
    self._progress = None
    self._frames_of_call = 0
    self.deleted_sequences = set()   # keys of non-finite ones, since the learner started
    self._update = tf.function(self.train_on_batch)

  def hyperparameter_variables(self):
    return {'learning_rate': self.hyperparameters.learning_rate,
            'optimizer_epsilon': self.optimizer.epsilon,
            'grad_clip_norm': self.hyperparameters.grad_clip_norm}

  def bind(self, client: reverb.Client, progress):
    """The learner's Reverb client (priorities go back through it) and its
    `progress.ProgressReader`."""
    self._client, self._progress = client, progress

  def _replica_update(self, data, probability, table_size):
    """Replica context: one replica's sequences ([B/R, L, ...] as sampled).

    Returns (gradients summed over replicas and clipped, their norm, the
    global batch's sums `_SUMS`, this replica's priorities [B/R]).
    """
    config = self._config
    ctx = tf.distribute.get_replica_context()
    total = lambda x: ctx.all_reduce(tf.distribute.ReduceOp.SUM, x)
    batch = learning.SequenceBatch(
        observation=_time_major(data['observation']),
        first=_time_major(data['first']),
        prev_action=_time_major(data['prev_action']),
        prev_reward=_time_major(data['prev_reward']),
        action=_time_major(data['action']),
        reward=_time_major(data['reward']),
        discount=_time_major(data['discount']),
        mask=_time_major(data['mask']),
        start_state=tuple(data['core_state']) if config.use_lstm else ())
    weights = None
    beta = config.r2d2.importance_sampling_exponent
    if beta > 0:
      # (N·P(i))^−β, scaled by the global batch's largest (Schaul et al. 2016).
      raw = tf.pow(tf.cast(table_size, tf.float32) * tf.cast(probability, tf.float32), -beta)
      # (ReduceOp has no MAX: each replica's largest, gathered.)
      weights = raw / tf.reduce_max(ctx.all_gather(tf.reduce_max(raw, keepdims=True), 0))
    with tf.GradientTape() as tape:
      out, q = learning.sequence_loss(
          self.network, self.target_network, batch, config.r2d2.burn_in, config.r2d2.n_step,
          config.r2d2.value_rescaling_epsilon, config.r2d2.priority_eta, weights, with_q=True,
          cross_replica_sum=total, reduction=config.r2d2.loss_reduction)
    grads = total(tape.gradient(out.loss, self.network.trainable_variables))
    grads, grad_norm = tf.clip_by_global_norm(grads, self.hyperparameters.grad_clip_norm)
    trained_mask = learning.trained_mask(batch, config.r2d2.burn_in, config.r2d2.n_step)
    mask = batch.mask[config.r2d2.burn_in:]
    sums = {
        'loss': out.loss,
        'q_max': tf.reduce_sum(tf.reduce_max(tf.stop_gradient(q), -1) * mask),
        'steps': tf.reduce_sum(mask),
        'td_abs': tf.reduce_sum(tf.abs(out.td_errors) * trained_mask),
        'trained': tf.reduce_sum(trained_mask),
        'priority': tf.reduce_sum(out.priorities),
        'importance_weight': (tf.reduce_sum(weights) if weights is not None
                              else tf.cast(tf.shape(out.priorities)[0], tf.float32)),
        'sequences': tf.cast(tf.shape(out.priorities)[0], tf.float32),
        'weights_version': tf.reduce_sum(tf.cast(data['weights_version'], tf.float32)),
    }
    return grads, grad_norm, total(tf.stack([sums[k] for k in _SUMS])), out.priorities

  def train_on_batch(self, iterator):
    """One update on the next (distributed) batch of sequences.

    Returns (stats float32 [len(self.stat_names)], the batch's keys uint64 [B] and
    new priorities float32 [B], the replicas' in order).
    """
    config = self._config
    strategy = self._strategy
    sample = next(iterator)
    learning_rate = self.hyperparameters.learning_rate * optimizers.learning_rate_factor(
        config, self.env_frames)
    self.optimizer.learning_rate.assign(learning_rate)
    grads, grad_norm, sums, priorities = strategy.run(
        self._replica_update, args=(sample.data, sample.info.probability,
                                    sample.info.table_size))
    local = lambda x: strategy.experimental_local_results(x)[0]
    gathered = lambda x: tf.concat(strategy.experimental_local_results(x), 0)
    s = dict(zip(_SUMS, tf.unstack(local(sums))))
    grad_norm = local(grad_norm)
    grad_rms = self._grad_rms_over_epsilon([local(g) for g in grads])
    finite = tf.math.is_finite(s['loss']) & tf.math.is_finite(grad_norm)
    num_vars = len(self.network.trainable_variables)
    tf.cond(finite, lambda: tf.stack(self.optimizer.apply(grads)),
            lambda: tf.zeros([num_vars]))
    skipped = 1 - tf.cast(finite, tf.int64)
    self.skipped_updates.assign_add(skipped)
    # The target period counts applied updates: a skipped one changed no
    # weight, so it must not bring the next target copy closer. (A tf.cond:
    # this runs inside tf.function, whose autograph converts the `if`.)
    if finite:
      self.target.after_update()
    self.learner_steps.assign_add(1)
    stats = tf.stack([
        s['loss'],
        tf.math.divide_no_nan(s['q_max'], s['steps']),
        tf.math.divide_no_nan(s['td_abs'], s['trained']),
        s['priority'] / s['sequences'],
        s['importance_weight'] / s['sequences'],
        s['trained'],
        tf.cast(skipped, tf.float32),
        grad_norm,
        learning_rate,
        s['weights_version'] / s['sequences'],
    ])
    return (tf.concat([stats, grad_rms], 0), gathered(sample.info.key),
            gathered(priorities))

  def _grad_rms_over_epsilon(self, grads):
    """float32 [variables]: each applied (clipped) gradient's RMS over the
    optimizer's ε, the scale it is compared with: Adam divides by √v̂ + ε, so
    where the RMS is not well above ε (a ratio near 1 or below), ε damps
    the step and Adam is no longer invariant to the loss's scale. RMSProp
    with ε inside the root compares ε with g², so there the ratio is
    RMS / √ε."""
    epsilon = tf.cast(self.optimizer.epsilon, tf.float32)
    if getattr(self.optimizer, 'epsilon_inside_sqrt', False):
      epsilon = tf.sqrt(epsilon)
    return tf.stack([tf.sqrt(tf.reduce_mean(tf.square(g))) for g in grads]) / epsilon

  def __call__(self, iterator):
    stats, keys, priorities = self._update(iterator)
    deleted = replay.update_priorities(self._client, keys.numpy(), priorities.numpy())
    if deleted:
      self.deleted_sequences.update(deleted)
      logging.warning('learner: deleted replayed sequence(s) %s, whose TD errors are not '
                      'finite (%d so far); the update they were in is skipped.', deleted,
                      len(self.deleted_sequences))
    # What actors reported up to the learner's readiness check before this call.
    frames, episodes = self._progress.take()
    self._frames_of_call = frames
    if frames:
      self.env_frames.assign_add(frames)
    return tf.expand_dims(stats, 0), [tf.constant(episodes)]

  def frames_of_call(self, steps: int) -> int:
    del steps
    return self._frames_of_call

  def metrics(self, stats, step_before):
    s = dict(zip(self.stat_names, np.asarray(stats).tolist()))
    grad_rms = {name: value for name, value in s.items() if name.startswith(GRAD_RMS_PREFIX)}
    ratios = np.array(list(grad_rms.values()))
    return {
        # Each variable's gradient RMS against the optimizer's ε, and the
        # smallest and median over the variables (docs/r2d2.md, loss scale).
        **{f'optimizer/{name}': value for name, value in grad_rms.items()},
        'optimizer/grad_rms_over_epsilon_min': float(ratios.min()),
        'optimizer/grad_rms_over_epsilon_median': float(np.median(ratios)),
        'loss/total': s['loss'],
        'q/mean_max': s['q_mean'],
        'q/td_abs_mean': s['td_abs_mean'],
        'replay/priority_mean': s['priority_mean'],
        'replay/importance_weight_mean': s['importance_weight_mean'],
        'replay/trained_steps': s['trained_steps'],
        # Sequences sampled per sequence inserted, since the server started
        # (the rate limiter holds it near r2d2.samples_per_insert).
        'replay/samples_per_insert': self._progress.samples_per_insert,
        'optimizer/grad_norm': s['grad_norm'],
        'optimizer/learning_rate': s['learning_rate'],
        # Learner steps between the weights that acted at a sequence's last
        # step (the version `replay.SequenceWriter` stores) and this update:
        # replay's staleness. The sequence's earlier steps acted with the
        # same or older weights.
        'policy/lag': step_before - s['weights_version'],
        **self._greedy_end_metrics(),
    }

  def _greedy_end_metrics(self):
    """The mean return of the last episodes of the ε ladder's greedy end
    (progress.ProgressReader: over about the stretch of training the
    all-ε mean covers), once there are any: what the policy scores
    with the ladder's smallest ε, beside `episode_return`'s all-ε mean."""
    returns = self._progress.greedy_end_returns
    return {'episode_return_greedy_end': float(np.mean(returns))} if returns else {}
