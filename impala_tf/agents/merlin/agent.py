"""MERLIN on the shared actor and learner loops.

Its actors write unrolls into the trajectory queue exactly as IMPALA's do;
what differs is the recurrent state each unroll carries (both LSTMs, the
memory, the last reads: `networks.MerlinState`) and the learner step
(`learner_step.MerlinStep`). The data path is `agents.state_unrolls`'.
"""

from impala_tf.agents import latent
from impala_tf.agents import state_unrolls
from impala_tf.agents.merlin import learner_step
from impala_tf.agents.merlin import networks


def state_spec(config, env_spec, num_envs: int):
  """The structure of tf.TensorSpec of `num_envs` environments' state."""
  return state_unrolls.state_spec(networks.make_network, config, env_spec, num_envs)


def queue_signature(config, env_spec):
  """One queue item: an actor's unroll and the state at its first step."""
  return state_unrolls.queue_signature(networks.make_network, config, env_spec)


def item_bytes(config, env_spec) -> int:
  """Bytes of one queue item (the memory dominates: rows × 2|z| floats per
  environment)."""
  return state_unrolls.item_bytes(networks.make_network, config, env_spec)


class MerlinAgent(state_unrolls.StateUnrollAgent):
  """MERLIN: the MBP and the policy, trained by the V-trace learner."""

  make_network = staticmethod(networks.make_network)
  step_class = learner_step.MerlinStep

  def exported_network(self, network):
    # The posterior's mean, not a sample: a deterministic greedy export.
    return latent.MeanLatent(network)
