"""Batched A2C synchronous per step: no actor processes; the learner's own
source (`source.SyncStepSource`) steps every environment."""

from impala_tf import networks
from impala_tf import train_step
from impala_tf.agents import interface
from impala_tf.agents.a2c_sync_step import source as source_lib


class SyncStepAgent(interface.Agent):
  """The V-trace step (on-policy data: its targets are n-step returns) fed
  by a source inside the learner process."""

  data_table = ''

  def make_step(self, env_spec, strategy):
    return train_step.TrainStep(self.config, env_spec, strategy)

  def data_tables(self, step, env_spec):
    del step, env_spec
    return []

  def data_capacity(self) -> int:
    return 1

  def make_input(self, learner, address, env_spec):
    del address, env_spec
    # The source acts inside the train call, when the batch is asked for:
    # the weights are the previous call's (this call's update needs the
    # batch first) and so is the Python step count (steps_per_call is 1
    # here). The step variable is not: nothing orders its increment after
    # the batch is read.
    source = source_lib.SyncStepSource(self.config, learner.acting_weights,
                                       self.acting_network)
    learner_input = interface.LearnerInput(lambda _: source.dataset(), close=source.close)
    learner_input.source = source
    return learner_input

  def actors_to_tell(self) -> int:
    return 0

  def acting_network(self, env_spec):
    return networks.make_acting_network(self.config, env_spec)

  def make_adder(self, actor):
    raise ValueError("architecture='a2c_sync_step' runs no actor processes: its learner "
                     'steps every environment itself.')
