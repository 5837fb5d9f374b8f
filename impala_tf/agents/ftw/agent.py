"""FTW's agent on the shared actor and learner loops (one player per
environment until the match-playing actors land, docs/ftw.md): IMPALA's
unrolls carrying both cores and the step counts (`agents.state_unrolls`),
and `learner_step.FtwStep`."""

from impala_tf.agents import latent
from impala_tf.agents import state_unrolls
from impala_tf.agents.ftw import learner_step
from impala_tf.agents.ftw import networks


def queue_signature(config, env_spec):
  """One queue item: an actor's unroll and the state at its first step."""
  return state_unrolls.queue_signature(networks.make_network, config, env_spec)


class FtwAgent(state_unrolls.StateUnrollAgent):
  """FTW's two-timescale agent, trained by the V-trace learner."""

  make_network = staticmethod(networks.make_network)
  step_class = learner_step.FtwStep

  def exported_network(self, network):
    # The posterior's mean, not a sample: a deterministic greedy export.
    return latent.MeanLatent(network)
