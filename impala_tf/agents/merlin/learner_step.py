"""MERLIN's learner step: the shared V-trace step with the MBP's loss added.

The IMPALA loss trains the policy (its gradient stops at the latent and the
memory it reads) and, through the baseline term, the MBP's return
prediction; the MBP's reconstruction and KL terms join the objective as the
step's auxiliary losses, weighted by the `merlin` section. Everything else,
updates, skips, counters and statistics, is the shared `TrainStep`'s.
"""

import tensorflow as tf

from impala_tf import train_step
from impala_tf.agents.merlin import networks

# The MBP loss terms, in the order the statistics report them (sorted).
MBP_LOSSES = ('mbp_action', 'mbp_kl', 'mbp_observation', 'mbp_reward')
_WEIGHTS = {'mbp_action': 'action_cost', 'mbp_kl': 'kl_cost',
            'mbp_observation': 'observation_cost', 'mbp_reward': 'reward_cost'}


class MerlinStep(train_step.TrainStep):
  """`TrainStep` over a `MerlinNetwork`, with the MBP loss."""

  auxiliary_losses = MBP_LOSSES

  def make_network(self, config, env_spec):
    return networks.make_network(config, env_spec)

  def unroll_for_loss(self, inputs, core_state, task):
    del task
    outputs, predictions, _ = self.network.unroll_with_predictions(inputs, core_state)
    # Steps 0..T−1: step T is the next unroll's step 0, reconstructed there.
    t_plus_one = tf.shape(inputs.first)[0]
    mask = tf.cast(tf.range(t_plus_one)[:, None] < t_plus_one - 1, tf.float32) * tf.ones_like(
        tf.cast(inputs.first, tf.float32))
    terms = self.network.mbp_losses(inputs, predictions, mask)
    merlin = self._config.merlin
    return outputs, {name: getattr(merlin, _WEIGHTS[name]) * terms[name] for name in MBP_LOSSES}
