"""A3C: actors send gradients of their own unrolls, applied one by one as
they arrive (`learning`)."""

import reverb

from impala_tf import networks
from impala_tf.agents import interface
from impala_tf.agents.a3c import adder
from impala_tf.agents.a3c import learning


class A3CAgent(interface.Agent):
  """A3C on the shared actor and learner loops."""

  gradients = True
  data_table = learning.GRADIENT_TABLE

  def make_step(self, env_spec, strategy):
    return learning.A3CStep(self.config, env_spec, strategy)

  def data_tables(self, step, env_spec):
    del env_spec
    config = self.config
    return [learning.gradient_table(config, learning.gradient_signature(
        step.num_parameters, config.unroll_length, config.envs_per_actor))]

  def data_capacity(self) -> int:
    return self.config.queue_capacity

  def make_input(self, learner, address, env_spec):
    del learner, env_spec
    # One actor's gradient per call.
    return interface.LearnerInput(
        lambda _: learning.make_dataset(address),
        interface.QueueReadiness(reverb.Client(address), self.data_table, 1))

  def acting_network(self, env_spec):
    # The same actor-critic network as IMPALA's (the paper's comparison).
    return networks.make_acting_network(self.config, env_spec)

  def make_adder(self, actor):
    return adder.GradientAdder(self.config, actor)
