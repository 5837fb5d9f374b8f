"""FTW's learner step: the shared V-trace step with the two KL terms added.

`ftw_kl` = `kl_cost` × KL(posterior ‖ prior) and `ftw_prior` = `prior_cost` ×
KL(prior ‖ N(0, I)), each summed over the unroll's steps, join the objective
as auxiliary losses. Their weights, τ and the fast→slow gradient scale are
variables PBT may set (`hyperparameter_variables`); τ and the scale live in
the network, so they reach the actors with the weights.
"""

import tensorflow as tf

from impala_tf import train_step
from impala_tf.agents.ftw import networks

FTW_LOSSES = ('ftw_kl', 'ftw_prior')


class KlCosts(tf.Module):
  """The KL terms' weights, as variables (checkpointed, set by PBT)."""

  def __init__(self, ftw):
    super().__init__(name='ftw_costs')
    self.kl_cost = tf.Variable(float(ftw.kl_cost), trainable=False, name='kl_cost')
    self.prior_cost = tf.Variable(float(ftw.prior_cost), trainable=False, name='prior_cost')


class FtwStep(train_step.TrainStep):
  """`TrainStep` over an `FtwNetwork`, with the KL terms."""

  auxiliary_losses = FTW_LOSSES

  def __init__(self, config, env_spec, strategy):
    super().__init__(config, env_spec, strategy)
    self.costs = KlCosts(config.ftw)
    self.checkpointables['ftw_costs'] = self.costs

  def make_network(self, config, env_spec):
    return networks.make_network(config, env_spec)

  def unroll_for_loss(self, inputs, core_state, task):
    del task
    outputs, latents, _ = self.network.unroll_with_latents(inputs, core_state)
    # Steps 0..T−1: step T is the next unroll's step 0, counted there.
    t_plus_one = tf.shape(inputs.first)[0]
    mask = tf.cast(tf.range(t_plus_one)[:, None] < t_plus_one - 1, tf.float32) * tf.ones_like(
        tf.cast(inputs.first, tf.float32))
    terms = self.network.auxiliary_losses(latents, mask)
    return outputs, {'ftw_kl': self.costs.kl_cost * terms['ftw_kl'],
                     'ftw_prior': self.costs.prior_cost * terms['ftw_prior']}

  def hyperparameter_variables(self):
    return {**super().hyperparameter_variables(),
            'kl_cost': self.costs.kl_cost,
            'prior_cost': self.costs.prior_cost,
            'slow_period': self.network.slow_period,
            'fast_to_slow_gradient_scale': self.network.fast_to_slow_gradient_scale,
            'event_weights': self.network.event_weights}
