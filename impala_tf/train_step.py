"""The learner's compiled step: V-trace losses, updates, skips and diagnostics.

One call of `TrainStep.__call__` (one `tf.function`) consumes
`steps_per_call` batches. For each batch it makes num_epochs ×
num_minibatches updates; each update

  1. (replica context, `strategy.run`) runs the network over the replica's
     [T+1, B] minibatch, computes the IMPALA loss (sum, or mean over the
     global batch's real transitions) and its gradients, all-reduces them
     (SUM: every replica's loss is its share of the global loss), clips them
     by global norm and reports whether everything is finite;
  2. (cross-replica context) applies them with the optimiser under a
     `tf.cond`, so a non-finite update is skipped (and counted) without
     leaving the graph.

After a batch's updates, PopArt's statistics (if any) take in the targets
of the batch's first pass, once, and the observation normaliser (if any)
merges the moments of the batch's fresh observations, unless one is
non-finite (then the merge is skipped and counted with the skipped
updates). Episodes, the policy lag and the normaliser only see the fresh
unrolls: replayed ones were counted once.

Gradients never leave the graph. What comes back to Python per batch is one
float32 vector of statistics (`stat_names`) and, per replica, one array of
the episodes that ended in the batch: TF 2.15 under Python 3.11 leaks a
little memory for every EagerTensor it creates (tensorflow/tensorflow#62551,
see graph_policy), so a long run must not create dozens per step.

The learning rate is the base rate (a hyperparameter variable) times the
schedule at the consumed-frames counter; hyperparameters live in variables
read by the step, so they can change without retracing.
"""

import tensorflow as tf

from impala_tf import losses
from impala_tf import networks
from impala_tf import optimizers
from impala_tf import popart as popart_lib
from impala_tf import trajectories
from impala_tf.agents import interface

# Sums over the global batch (SUM-reduced over replicas) and over a batch's
# updates, in this order after the statistics vector's head (`stat_names`).
_SUMS = ('transitions', 'loss_total', 'loss_policy_gradient', 'loss_baseline',
         'loss_entropy', 'entropy', 'kl', 'rho', 'rho_truncated', 'ppo_clipped', 'vs',
         'vs_squared', 'vs_error', 'vs_error_squared', 'nonfinite')


class Hyperparameters(tf.Module):
  """The hyperparameters the train step reads from variables (checkpointed,
  changeable between steps without retracing)."""

  def __init__(self, config):
    super().__init__(name='hyperparameters')

    def variable(name):
      return tf.Variable(float(getattr(config, name)), dtype=tf.float32, trainable=False,
                         name=name)

    self.learning_rate = variable('learning_rate')
    self.entropy_cost = variable('entropy_cost')
    self.baseline_cost = variable('baseline_cost')
    self.grad_clip_norm = variable('grad_clip_norm')


class TrainStep(interface.LearnerStep):
  """Network, optimiser, hyperparameters and counters, and the compiled step
  of the actor-critic agents (IMPALA, A3C, batched A2C): V-trace and the
  IMPALA loss.

  Build it inside `strategy.scope()`.
  """

  def __init__(self, config, env_spec, strategy):
    self._config = config
    self._strategy = strategy
    self._dist = env_spec.distribution
    self.network = self.make_network(config, env_spec)
    # Column names of the sums statistics: the V-trace loss's, then an
    # agent's auxiliary loss terms (`unroll_for_loss`).
    self._sum_names = _SUMS + tuple(sorted(self.auxiliary_losses))
    variables = self.network.trainable_variables
    self.optimizer = optimizers.make_optimizer(config, variables)
    self.hyperparameters = Hyperparameters(config)
    self.popart = (popart_lib.PopArt(config.num_tasks, config.popart_step_size,
                                     config.popart_sigma_min, config.popart_sigma_max)
                   if config.popart else None)
    counter = lambda name: tf.Variable(0, dtype=tf.int64, trainable=False, name=name)
    self.env_frames = counter('env_frames')          # frames consumed
    self.learner_steps = counter('learner_steps')    # batches consumed
    self.skipped_updates = counter('skipped_updates')
    self._groups = self.network.variable_groups()
    self._replicas = strategy.num_replicas_in_sync
    self._replica_batch = config.batch_size // self._replicas
    self._fresh_per_replica = (config.fresh_items_per_batch * config.envs_per_actor
                               // self._replicas)
    if self._replica_batch % config.num_minibatches:
      raise ValueError(
          f'batch_size / replicas = {self._replica_batch} trajectories cannot be split '
          f'into num_minibatches = {config.num_minibatches}.')
    self.stat_names = (
        ['updates', 'skipped', 'learning_rate', 'entropy_cost', 'gradient_norm',
         'weights_version', 'trajectories'] + list(self._sum_names)
        + [f'gradient_norm/{g}' for g in self._groups]
        + [f'update_ratio/{g}' for g in self._groups]
        + [f'second_moment_rms/{g}' for g in self._groups])
    self.checkpointables = dict(
        network=self.network, optimizer=self.optimizer, hyperparameters=self.hyperparameters,
        env_frames=self.env_frames, learner_steps=self.learner_steps,
        skipped_updates=self.skipped_updates)
    if self.popart is not None:
      self.checkpointables['popart'] = self.popart
    self._device_step = (tf.function(self.train_on_batch, jit_compile=True)
                         if config.jit_compile else self.train_on_batch)

  # An agent whose network has losses of its own besides the IMPALA loss
  # (MERLIN's predictor) names them here and returns them from
  # `unroll_for_loss`; they are added to the objective and reported as
  # `loss/<name>` per transition.
  auxiliary_losses = ()

  def make_network(self, config, env_spec):
    """The network this step trains (built): the config's ImpalaNetwork."""
    return networks.make_network(config, env_spec.observation_shape, env_spec.distribution,
                                 env_spec.channels_first, action_masks=env_spec.action_masks)

  def unroll_for_loss(self, inputs, core_state, task):
    """(NetworkOutput [T+1, B, ...], {name: weighted auxiliary loss summed
    over the batch} for each of `auxiliary_losses`) of a replica's batch."""
    outputs, _ = self.network.unroll(inputs, core_state, task)
    return outputs, {}

  # --- Replica context -----------------------------------------------------------
  def epoch_orders(self):
    """int32 [num_epochs, B/replicas]: each epoch's shuffle of a replica's
    trajectories, seeded by the step count (every replica shuffles alike).

    Drawn outside the compiled part: XLA's stateless random numbers differ
    from TensorFlow's kernels' for the same seed, and the step computes the
    same with and without `jit_compile`.
    """
    steps = self.learner_steps.read_value()
    return tf.stack([
        tf.argsort(tf.random.stateless_uniform(
            [self._replica_batch], tf.stack([steps, tf.constant(epoch, tf.int64)])))
        for epoch in range(self._config.num_epochs)])

  def _minibatch(self, batch, orders, epoch, index):
    """Trajectories [index·Bm, (index+1)·Bm) of this epoch's shuffle
    (`orders`, from `epoch_orders`)."""
    config = self._config
    if config.num_minibatches == 1:
      return batch
    size = self._replica_batch // config.num_minibatches
    order = tf.gather(orders, epoch)
    picked = order[index * size:(index + 1) * size]
    out = {}
    for name, value in batch.items():
      if name == 'core_state':
        out[name] = tf.nest.map_structure(lambda s: tf.gather(s, picked, axis=0), value)
      else:
        out[name] = tf.gather(value, picked, axis=1)
    return out

  def _replica_update(self, batch, orders, update, entropy_cost):
    """Gradients (all-reduced, clipped) and statistics of one update."""
    config = self._config
    hp = self.hyperparameters
    ctx = tf.distribute.get_replica_context()
    batch = self._minibatch(batch, orders, update // config.num_minibatches,
                            update % config.num_minibatches)
    grads, grad_norm, sums, moments = loss_and_gradients(
        config, self.network, self._dist, batch, entropy_cost, hp.baseline_cost,
        popart=self.popart,
        cross_replica_sum=lambda x: ctx.all_reduce(tf.distribute.ReduceOp.SUM, x),
        unroll_fn=self.unroll_for_loss if self.auxiliary_losses else None)
    group_norms = [tf.linalg.global_norm([grads[i] for i in idx])
                   for idx in self._groups.values()]
    grads, _ = tf.clip_by_global_norm(grads, hp.grad_clip_norm, use_norm=grad_norm)
    return grads, sums, tf.stack([grad_norm] + group_norms), moments

  def _replica_batch_info(self, batch):
    """Episodes [5, T, B] (trajectories.EPISODE_ROWS) of this replica; the
    global batch's weights version sum and trajectory count; its observation moments (for normalisation).
    Only the fresh trajectories (the first ones) count: replayed ones were
    counted when they were fresh."""
    ctx = tf.distribute.get_replica_context()
    fresh = self._fresh_per_replica
    batch = tf.nest.map_structure(lambda x: x[:, :fresh], {
        k: v for k, v in batch.items() if k != 'core_state'})
    episodes = trajectories.finished_episodes(batch)
    version = tf.cast(tf.reduce_sum(batch['weights_version'][0]), tf.float32)
    count = tf.cast(tf.shape(batch['weights_version'])[1], tf.float32)
    info = ctx.all_reduce(tf.distribute.ReduceOp.SUM, tf.stack([version, count]))
    moments = ()
    if self.network.normalizer is not None:
      observation = batch['observation']
      flat = tf.reshape(observation, tf.concat([[-1], tf.shape(observation)[2:]], 0))
      task = tf.reshape(batch['task'], [-1])
      # The global batch's moments: each pass's sums all-reduced.
      moments = self.network.normalizer.moments(
          flat, task, reduce=lambda sums: ctx.all_reduce(tf.distribute.ReduceOp.SUM, sums))
    return episodes, info, moments

  # --- Cross-replica context ---------------------------------------------------------
  def train_on_batch(self, batch, orders):
    """The device part of a step: every update on one (distributed) batch,
    its minibatches cut along `orders` (`epoch_orders`).

    Returns (stats float32 [len(stat_names)], per-replica episodes). Nothing
    here is a host op: with `jit_compile` it runs as one XLA computation.
    """
    config = self._config
    strategy = self._strategy
    local = lambda x: strategy.experimental_local_results(x)[0]
    episodes, info, obs_moments = strategy.run(self._replica_batch_info, args=(batch,))
    learning_rate = self.hyperparameters.learning_rate * optimizers.learning_rate_factor(
        config, self.env_frames)
    self.optimizer.learning_rate.assign(learning_rate)
    entropy_cost = self.hyperparameters.entropy_cost * optimizers.entropy_cost_factor(
        config, self.env_frames)
    num_vars = len(self.network.trainable_variables)
    num_updates = config.num_epochs * config.num_minibatches
    groups = list(self._groups.values())
    sums = tf.zeros([len(self._sum_names)])
    norms = tf.zeros([1 + len(groups)])
    update_norms = tf.zeros([len(groups)])
    # PopArt: the targets of the batch's first pass (its first epoch's
    # minibatches) as (count, mean, m2) per task; later epochs revisit the
    # same transitions, which must not count twice.
    zeros_k = tf.zeros([config.num_tasks])
    targets = (zeros_k, zeros_k, zeros_k)
    for update in tf.range(num_updates):
      grads, step_sums, step_norms, moments = strategy.run(
          self._replica_update, args=(batch, orders, update, entropy_cost))
      step_sums = local(step_sums)
      finite = step_sums[self._sum_names.index('nonfinite')] == 0.0

      def apply(grads=grads):
        return tf.stack(self.optimizer.apply(grads))

      squares = tf.cond(finite, apply, lambda: tf.zeros([num_vars]))
      if self.popart is not None:
        count, mean, m2 = tf.unstack(local(moments))
        take = tf.cast(finite & (update < config.num_minibatches), tf.float32)
        targets = popart_lib.combine_moments(targets, (count * take, mean, m2 * take))
      self.skipped_updates.assign_add(1 - tf.cast(finite, tf.int64))
      sums += step_sums
      norms += local(step_norms)
      update_norms += tf.stack([tf.sqrt(tf.reduce_sum(tf.gather(squares, idx)))
                                for idx in groups])
    if self.popart is not None:
      # Once per batch, after its updates (each used the statistics the
      # outputs were trained under); the rescale keeps every V(s) unchanged.
      head = self.network.baseline_head
      self.popart.update(*targets, head.kernel, head.bias)
    if self.network.normalizer is not None:
      # After the batch's updates, which therefore saw its observations
      # normalised exactly as the actors that collected it did (at zero lag
      # π = μ); before the weights are published. A batch with a
      # non-finite moment is not merged (it would make the statistics NaN
      # for good) and counts as one skip.
      merged = self.network.normalizer.update(*[local(m) for m in obs_moments])
      skipped = 1.0 - tf.cast(merged, tf.float32)
      self.skipped_updates.assign_add(tf.cast(skipped, tf.int64))
      sums = tf.tensor_scatter_nd_add(sums, [[self._sum_names.index('nonfinite')]], [skipped])
    self.env_frames.assign_add(config.frames_per_learner_step)
    self.learner_steps.assign_add(1)

    info = local(info)
    head = tf.stack([
        tf.cast(num_updates, tf.float32), sums[self._sum_names.index('nonfinite')],
        learning_rate, entropy_cost, norms[0] / num_updates, info[0], info[1]])
    stats = tf.concat([head, sums, norms[1:] / num_updates,
                       self._group_statistics(update_norms / num_updates)], 0)
    return stats, episodes

  def _group_statistics(self, update_norms):
    """Per layer group: the mean update size relative to the weights after
    the updates, then the optimiser's estimate of the gradient's RMS."""
    groups = list(self._groups.values())
    variables = self.network.trainable_variables
    second = self.optimizer.second_moments
    weight_norms = tf.stack([tf.linalg.global_norm([variables[i] for i in idx])
                             for idx in groups])
    moments = tf.stack([
        tf.sqrt(tf.add_n([tf.reduce_sum(second[i]) for i in idx])
                / sum(variables[i].shape.num_elements() for i in idx))
        for idx in groups])
    return tf.concat([update_norms / tf.maximum(weight_norms, 1e-12), moments], 0)

  def hyperparameter_variables(self):
    return {'learning_rate': self.hyperparameters.learning_rate,
            'entropy_cost': self.hyperparameters.entropy_cost,
            'optimizer_epsilon': self.optimizer.epsilon,
            'grad_clip_norm': self.hyperparameters.grad_clip_norm}

  def task_summaries(self, task_names):
    if self.popart is None:
      return {}
    out = {}
    for name, mu, sigma in zip(task_names, self.popart.mu.numpy(), self.popart.sigma.numpy()):
      out[f'{name}/popart_mu'] = float(mu)
      out[f'{name}/popart_sigma'] = float(sigma)
    return out

  def frames_of_call(self, steps: int) -> int:
    """New environment frames `steps` learner steps consumed."""
    return steps * self._config.frames_per_learner_step

  def metrics(self, stats, step_before):
    """Readable metrics of one batch's statistics vector (see `metrics`),
    with each auxiliary loss per transition as `loss/<name>`."""
    out = metrics(self.stat_names, stats, step_before)
    s = dict(zip(self.stat_names, stats.tolist()))
    for name in self.auxiliary_losses:
      out[f'loss/{name}'] = s[name] / max(s['transitions'], 1.0)
    return out

  @tf.function
  def __call__(self, iterator):
    """Trains on `steps_per_call` batches from the distributed iterator.

    Returns:
      (stats float32 [steps_per_call, len(stat_names)],
       [per batch: per-replica episodes float32 [5, T, B]:
        trajectories.EPISODE_ROWS]).
    """
    stats, episodes = [], []
    for _ in range(self._config.steps_per_call):
      # The read is a host op (the Reverb dataset); the rest is the device's.
      batch_stats, batch_episodes = self._device_step(next(iterator), self.epoch_orders())
      stats.append(batch_stats)
      episodes.append(batch_episodes)
    return tf.stack(stats), episodes


def loss_and_gradients(config, network, dist, batch, entropy_cost, baseline_cost,
                       popart=None, cross_replica_sum=None, symbolic=False, unroll_fn=None):
  """The IMPALA loss of a time-major batch and its gradients.

  Args:
    config: the ImpalaConfig (loss settings).
    network: the ImpalaNetwork; gradients are taken for its trainable
      variables.
    dist: the action distribution.
    batch: dict of time-major columns [T+1, B, ...] (see trajectories).
    entropy_cost, baseline_cost: the coefficients (floats or tensors).
    popart: None or a popart.PopArt with per-task statistics.
    cross_replica_sum: fn summing a tensor over replicas (None: one replica),
      applied to the gradients and every statistic, so all are global.
    symbolic: take the gradients with `tf.gradients` (building a TF1-style
      graph, as an A3C actor's GraphPolicy does: there a GradientTape does not
      see through the LSTM's scan and returns None for its weights).
    unroll_fn: None (run `network.unroll`), or fn(inputs, core_state, task)
      -> (outputs, {name: auxiliary loss}) (`TrainStep.unroll_for_loss`):
      the auxiliary losses join the objective, and their sums follow
      `_SUMS` in `sums`, in sorted name order.

  Returns:
    (grads: list of unclipped gradients, grad_norm: their global norm,
     sums: float32 [len(_SUMS) + auxiliary losses] statistics,
     moments: float32 [3, K], each
     task's targets' count, mean and sum of squared deviations from that
     mean (over the global batch), for PopArt).
  """
  cross = cross_replica_sum or (lambda x: x)
  loss_in = trajectories.loss_inputs(batch, config.discount)
  mask = loss_in.mask
  transitions = cross(tf.reduce_sum(mask))
  inputs = networks.NetworkInput(
      observation=batch['observation'], first=batch['first'],
      prev_action=batch['prev_action'], prev_reward=batch['reward'])
  variables = network.trainable_variables
  # Each trajectory's task (constant along it): its baseline output and its
  # PopArt statistics.
  task_onehot = tf.one_hot(batch['task'][0], config.num_tasks)
  stats = None
  if popart is not None:
    stats = (tf.linalg.matvec(task_onehot, popart.mu),
             tf.linalg.matvec(task_onehot, popart.sigma))
  with tf.GradientTape() as tape:
    task = batch['task'] if network.needs_task else None
    if unroll_fn is None:
      outputs, _ = network.unroll(inputs, batch.get('core_state', ()), task)
      auxiliary = {}
    else:
      outputs, auxiliary = unroll_fn(inputs, batch.get('core_state', ()), task)
    baseline = outputs.baseline
    if config.num_tasks > 1:
      baseline = tf.reduce_sum(baseline * task_onehot, -1)
    loss = losses.impala_loss(
        dist,
        target_policy_params=outputs.policy_params[:-1],
        behaviour_policy_params=loss_in.behaviour_policy_params,
        actions=loss_in.actions,
        rewards=loss_in.rewards,
        discounts=loss_in.discounts,
        values=baseline[:-1],
        bootstrap_value=baseline[-1],
        mask=mask,
        correction=config.correction,
        reward_clipping=config.reward_clipping,
        baseline_cost=baseline_cost,
        entropy_cost=entropy_cost,
        clip_rho_threshold=config.threshold('clip_rho_threshold'),
        clip_pg_rho_threshold=config.threshold('clip_pg_rho_threshold'),
        clip_c_threshold=config.threshold('clip_c_threshold'),
        lambda_=config.vtrace_lambda,
        advantage_normalization=config.advantage_normalization,
        ppo_clip=config.ppo_clip or None,
        cross_replica_sum=cross_replica_sum,
        popart=stats)
    total_loss = loss.total_loss + tf.add_n([tf.constant(0.0)] + list(auxiliary.values()))
    objective = total_loss
    if config.loss_reduction == 'mean':
      objective = objective / tf.maximum(transitions, 1.0)
  if symbolic:
    grads = cross(tf.gradients(objective, variables))
  else:
    grads = cross(tape.gradient(objective, variables))
  grad_norm = tf.linalg.global_norm(grads)
  finite = tf.math.is_finite(total_loss) & tf.math.is_finite(grad_norm)
  finite &= tf.reduce_all(tf.math.is_finite(batch['reward']))
  if batch['observation'].dtype.is_floating:  # uint8 frames cannot be NaN
    finite &= tf.reduce_all(tf.math.is_finite(batch['observation']))
  rhos = tf.exp(loss.log_rhos)
  vs_error = loss.vs - loss.values
  local_transitions = tf.reduce_sum(mask)
  sums = {
      'transitions': local_transitions,
      'loss_total': total_loss,
      'loss_policy_gradient': loss.pg_loss,
      'loss_baseline': loss.baseline_loss,
      'loss_entropy': loss.entropy_loss,
      'entropy': tf.reduce_sum(loss.entropy * mask),
      'kl': tf.reduce_sum(dist.kl(loss_in.behaviour_policy_params,
                                  outputs.policy_params[:-1]) * mask),
      'rho': tf.reduce_sum(rhos * mask),
      'rho_truncated': tf.reduce_sum(
          tf.cast(rhos > config.clip_rho_threshold, tf.float32) * mask),
      'ppo_clipped': loss.clipped_fraction * local_transitions,
      'vs': tf.reduce_sum(loss.vs * mask),
      'vs_squared': tf.reduce_sum(tf.square(loss.vs) * mask),
      'vs_error': tf.reduce_sum(vs_error * mask),
      'vs_error_squared': tf.reduce_sum(tf.square(vs_error) * mask),
      'nonfinite': 1.0 - tf.cast(finite, tf.float32),
  }
  # Summed over replicas, every replica holds the same `nonfinite`.
  sums.update(auxiliary)
  names = _SUMS + tuple(sorted(auxiliary))
  sums = cross(tf.stack([tf.cast(sums[k], tf.float32) for k in names]))
  per_task = lambda x: tf.einsum('tb,bk->k', x * mask, task_onehot)
  # Two passes (the global mean first), so the spread is exact in float32
  # however large the targets' mean.
  counts, totals = tf.unstack(cross(tf.stack([per_task(tf.ones_like(loss.vs)),
                                              per_task(loss.vs)])))
  target_mean = totals / tf.maximum(counts, 1.0)
  deviations = loss.vs - tf.linalg.matvec(task_onehot, target_mean)
  moments = tf.stack([counts, target_mean, cross(per_task(tf.square(deviations)))])
  return grads, grad_norm, sums, moments


def metrics(names, stats, step_before):
  """Readable metrics (python floats) from one batch's statistics vector.

  Losses and entropy are per real transition, averaged over the batch's
  updates; `policy_lag` is the learner step minus the mean weights version
  that acted.
  """
  s = dict(zip(names, stats.tolist()))
  transitions = max(s['transitions'], 1.0)
  vs_mean = s['vs'] / transitions
  vs_var = s['vs_squared'] / transitions - vs_mean ** 2
  err_mean = s['vs_error'] / transitions
  err_var = s['vs_error_squared'] / transitions - err_mean ** 2
  out = {
      'loss/total': s['loss_total'] / transitions,
      'loss/policy_gradient': s['loss_policy_gradient'] / transitions,
      'loss/baseline': s['loss_baseline'] / transitions,
      'loss/entropy': s['loss_entropy'] / transitions,
      'policy/entropy': s['entropy'] / transitions,
      # KL(μ ‖ π): how far the learner's policy is from the one that acted
      # (policy lag and this batch's own earlier updates).
      'policy/kl_behaviour': s['kl'] / transitions,
      'policy/rho_mean': s['rho'] / transitions,
      'policy/rho_truncated_fraction': s['rho_truncated'] / transitions,
      # Share of real transitions whose ratio π/μ is outside [1 − ε, 1 + ε],
      # the ratio taken against the behaviour policy μ that acted (APPO's
      # choice; PPO takes it against the policy before this batch's updates).
      'policy/ppo_clipped_fraction': s['ppo_clipped'] / transitions,
      'policy/lag': step_before - s['weights_version'] / max(s['trajectories'], 1.0),
      # 1 − Var[v_s − V(x_s)] / Var[v_s]: 1 is a perfect baseline, ≤ 0 useless.
      'baseline/explained_variance': 1.0 - err_var / vs_var if vs_var > 1e-12 else 0.0,
      'optimizer/learning_rate': s['learning_rate'],
      'loss/entropy_cost': s['entropy_cost'],
      'optimizer/gradient_norm': s['gradient_norm'],
      'optimizer/skipped_in_batch': s['skipped'],
  }
  for name, value in s.items():
    if '/' in name:
      out[f'optimizer/{name}'] = value
  return out
