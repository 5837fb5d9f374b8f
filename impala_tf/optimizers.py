"""The paper's optimiser: RMSProp as TensorFlow 1 implemented it.

The paper's agent used `tf.train.RMSPropOptimizer`:

  ms  ← decay · ms + (1 − decay) · g²        (ms starts at 1)
  mom ← momentum · mom + lr · g / sqrt(ms + ε)
  θ   ← θ − mom

Keras's RMSprop applies the same update with ε inside the square root, but
starts ms at 0, which makes the first updates up to 1/sqrt(ε) = 10 times larger
at the paper's ε = 0.01. `PaperRMSprop` starts ms at 1.
"""

import tensorflow as tf


class PaperRMSprop(tf.keras.optimizers.RMSprop):
  """tf.keras RMSprop whose mean-square accumulators start at one."""

  def build(self, var_list):
    # The Optimizer base class does the bookkeeping (iterations, index of
    # variables); the accumulators are made here instead of in
    # RMSprop.build so that ms can start at one.
    super(tf.keras.optimizers.RMSprop, self).build(var_list)
    if getattr(self, '_built', False):
      return
    self._built = True

    def slots(name, initial):
      return [
          self.add_variable_from_reference(
              var, name, initial_value=initial(var.shape, var.dtype))
          for var in var_list
      ]

    self._velocities = slots('velocity', tf.ones)
    self._momentums = slots('momentum', tf.zeros) if self.momentum > 0 else []
    self._average_gradients = (
        slots('average_gradient', tf.zeros) if self.centered else [])


def learning_rate_schedule(config):
  """Linear decay from `config.learning_rate` to 0 over the training budget
  (`config.total_learner_steps` = total_environment_frames / frames per
  step), as in paper Table G.1."""
  return tf.keras.optimizers.schedules.PolynomialDecay(
      initial_learning_rate=config.learning_rate,
      decay_steps=config.total_learner_steps,
      end_learning_rate=0.0,
      power=1.0)


def make_optimizer(config):
  """PaperRMSprop with the config's settings and the linear decay.

  The optimiser's own iteration counter drives the schedule, so the
  schedule resumes with a checkpoint.
  """
  return PaperRMSprop(
      learning_rate=learning_rate_schedule(config),
      rho=config.rmsprop_decay,
      momentum=config.rmsprop_momentum,
      epsilon=config.rmsprop_epsilon,
      # Clipping is done by the learner on the global norm of all gradients
      # (after the cross-replica reduction), not per variable here.
      jit_compile=False)
