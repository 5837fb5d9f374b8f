"""Optimisers and learning-rate schedules, written for the compiled learner step.

Two optimisers, each a `tf.Module` whose slots and hyperparameters are
variables (so they are checkpointed, and a hyperparameter can change between
steps without retracing the train step):

  RMSProp  ms  ← ρ ms + (1 − ρ) g²
           Δ   = lr g / sqrt(ms + ε)      ε inside the root (TF1, the paper's
                                          implementation, Keras)
           Δ   = lr g / (sqrt(ms) + ε)    ε outside (PyTorch; the A2C recipe)
           mom ← momentum · mom + Δ;  θ ← θ − mom
           ms starts at `initial_mean_square`: 1 in TF1's RMSPropOptimizer
           (the paper), 0 in Keras and PyTorch.
  Adam     Keras' update (Kingma & Ba 2015's "efficient" form): the moments
           are bias-corrected through the step size, ε is not (it is added
           to the uncorrected sqrt(v)):
           m ← β1 m + (1 − β1) g;  v ← β2 v + (1 − β2) g²;
           θ ← θ − lr sqrt(1 − β2^t) / (1 − β1^t) · m / (sqrt(v) + ε).

Why not tf.keras' optimisers: their `apply_gradients` synchronises replicas
with a merge call, which tf.distribute does not allow inside the `tf.cond`
that skips a non-finite update in-graph. Here `apply` runs in cross-replica
context and updates each variable with `strategy.extended.update`, which
works under a `tf.cond` on one device, MirroredStrategy and TPUStrategy.

Schedules are functions of the environment frames the learner has consumed
(a checkpointed counter), over a horizon of their own: resuming a run, or
changing its frame budget, does not change its schedule.
"""

import math

import tensorflow as tf

from impala_tf.choices import OPTIMIZERS
from impala_tf.choices import SCHEDULES


def _hyperparameter(value, name):
  return tf.Variable(float(value), dtype=tf.float32, trainable=False, name=name)


class _Optimizer(tf.Module):
  """Slots per variable; `apply(grads)` in cross-replica (or default) context."""

  def __init__(self, variables, learning_rate, epsilon, name):
    super().__init__(name=name)
    # Built inside the learner's strategy scope: that is the strategy whose
    # `extended.update` places each variable's update on its devices.
    self._strategy = tf.distribute.get_strategy()
    self._variables = list(variables)
    self.iterations = tf.Variable(0, dtype=tf.int64, trainable=False, name='iterations')
    # Set by the learner before each update from its schedule.
    self.learning_rate = _hyperparameter(learning_rate, 'learning_rate')
    self.epsilon = _hyperparameter(epsilon, 'epsilon')

  def _slots(self, name, initial):
    return [tf.Variable(tf.fill(v.shape, tf.constant(initial, v.dtype)), trainable=False,
                        name=f'{name}_{i}')
            for i, v in enumerate(self._variables)]

  @property
  def second_moments(self):
    """The per-variable second-moment slots (ms or v), for diagnostics."""
    raise NotImplementedError

  def apply(self, grads):
    """Applies one update; returns the squared norm of each variable's step.

    Args:
      grads: one gradient per variable, plain tensors or (under a strategy)
        the per-replica values `strategy.run` returned, already all-reduced.

    Returns:
      list of float32 scalars ||Δθ_i||² (replica 0's, all are equal).
    """
    strategy = self._strategy
    step = tf.cast(self.iterations + 1, tf.float32)
    hyper = (tf.identity(self.learning_rate), tf.identity(self.epsilon), step)
    squared_norms = []
    for i, (var, grad) in enumerate(zip(self._variables, grads)):
      result = strategy.extended.update(
          var, self._update, args=(grad, self._slot_tuple(i), hyper), group=True)
      squared_norms.append(strategy.experimental_local_results(result)[0])
    self.iterations.assign_add(1)
    return squared_norms

  def _slot_tuple(self, i):
    raise NotImplementedError

  def _update(self, var, grad, slots, hyper):
    raise NotImplementedError


class RMSProp(_Optimizer):
  """RMSProp in either convention (see the module docstring)."""

  def __init__(self, variables, learning_rate, decay=0.99, epsilon=0.01, momentum=0.0,
               epsilon_inside_sqrt=True, initial_mean_square=1.0, name='rmsprop'):
    super().__init__(variables, learning_rate, epsilon, name)
    self.decay = float(decay)
    self.momentum = float(momentum)
    self.epsilon_inside_sqrt = bool(epsilon_inside_sqrt)
    self.mean_squares = self._slots('mean_square', float(initial_mean_square))
    self.momenta = self._slots('momentum', 0.0) if self.momentum > 0 else []

  @property
  def second_moments(self):
    return self.mean_squares

  def _slot_tuple(self, i):
    return (self.mean_squares[i], self.momenta[i] if self.momenta else None)

  def _update(self, var, grad, slots, hyper):
    ms, mom = slots
    lr, eps, _ = hyper
    ms_new = ms.assign(self.decay * ms + (1.0 - self.decay) * tf.square(grad))
    if self.epsilon_inside_sqrt:
      delta = lr * grad * tf.math.rsqrt(ms_new + eps)
    else:
      delta = lr * grad / (tf.sqrt(ms_new) + eps)
    if mom is not None:
      delta = mom.assign(self.momentum * mom + delta)
    var.assign_sub(delta)
    return tf.reduce_sum(tf.square(delta))


class Adam(_Optimizer):
  """Adam with Keras' update (see the module docstring)."""

  def __init__(self, variables, learning_rate, beta1=0.9, beta2=0.999, epsilon=1e-7,
               name='adam'):
    super().__init__(variables, learning_rate, epsilon, name)
    self.beta1 = float(beta1)
    self.beta2 = float(beta2)
    self.m = self._slots('m', 0.0)
    self.v = self._slots('v', 0.0)

  @property
  def second_moments(self):
    return self.v

  def _slot_tuple(self, i):
    return (self.m[i], self.v[i])

  def _update(self, var, grad, slots, hyper):
    m, v = slots
    lr, eps, step = hyper
    m_new = m.assign(self.beta1 * m + (1.0 - self.beta1) * grad)
    v_new = v.assign(self.beta2 * v + (1.0 - self.beta2) * tf.square(grad))
    alpha = lr * tf.sqrt(1.0 - tf.pow(self.beta2, step)) / (1.0 - tf.pow(self.beta1, step))
    delta = alpha * m_new / (tf.sqrt(v_new) + eps)
    var.assign_sub(delta)
    return tf.reduce_sum(tf.square(delta))


def make_optimizer(config, variables):
  """The optimiser the config names, over `variables` (build it inside the
  strategy's scope so its slots are mirrored like the variables)."""
  if config.optimizer == 'rmsprop':
    return RMSProp(variables, config.learning_rate, decay=config.rmsprop_decay,
                   epsilon=config.rmsprop_epsilon, momentum=config.rmsprop_momentum,
                   epsilon_inside_sqrt=config.rmsprop_epsilon_inside_sqrt,
                   initial_mean_square=config.rmsprop_initial_mean_square)
  if config.optimizer == 'adam':
    return Adam(variables, config.learning_rate, beta1=config.adam_beta1,
                beta2=config.adam_beta2, epsilon=config.adam_epsilon)
  raise ValueError(f'optimizer must be one of {OPTIMIZERS}, got {config.optimizer!r}.')


def decay_factor(schedule, frames, decay_frames, end_factor):
  """A multiplier decaying from 1 to `end_factor` over the first
  `decay_frames` frames ('linear' or 'cosine'; 'constant' stays 1), constant
  afterwards. `frames` is a float or a tensor; returns float32."""
  frames = tf.cast(frames, tf.float32)
  if schedule == 'constant':
    return tf.constant(1.0)
  progress = tf.minimum(frames / float(decay_frames), 1.0)
  if schedule == 'linear':
    return 1.0 - progress * (1.0 - end_factor)
  if schedule == 'cosine':
    return end_factor + (1.0 - end_factor) * 0.5 * (1.0 + tf.cos(math.pi * progress))
  raise ValueError(f'schedule must be one of {SCHEDULES}, got {schedule!r}.')


def learning_rate_factor(config, frames):
  """The schedule's multiplier of the base learning rate after `frames`
  consumed environment frames (a float or a tensor; returns float32).

  Linear warm-up from 0 over `lr_warmup_frames`, then 'constant', or a
  'linear' or 'cosine' decay from 1 to `lr_end_factor` over the first
  `lr_decay_frames` frames, constant afterwards. Paper Table G.1: linear
  decay to 0 over the 200M-frame training run.
  """
  factor = decay_factor(config.lr_schedule, frames, config.lr_decay_frames,
                        config.lr_end_factor)
  if config.lr_warmup_frames:
    factor *= tf.minimum(tf.cast(frames, tf.float32) / float(config.lr_warmup_frames), 1.0)
  return factor


def entropy_cost_factor(config, frames):
  """The multiplier of the base entropy cost after `frames` consumed
  frames: 1 until `entropy_decay_start_frames`, then `entropy_schedule`
  from 1 to `entropy_end_factor` until `lr_decay_frames` (where the
  learning rate's decay ends too), constant afterwards."""
  start = config.entropy_decay_start_frames
  since_start = tf.maximum(tf.cast(frames, tf.float32) - float(start), 0.0)
  return decay_factor(config.entropy_schedule, since_start,
                      config.lr_decay_frames - start, config.entropy_end_factor)
