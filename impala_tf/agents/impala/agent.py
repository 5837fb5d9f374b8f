"""IMPALA: actors send unrolls through the trajectory queue, the learner
trains on them with V-trace (`synchronous=true`: batched A2C synchronous per
trajectory)."""

from impala_tf import networks
from impala_tf import train_step
from impala_tf import trajectories
from impala_tf import trajectory_queue
from impala_tf import unroll_adder
from impala_tf.agents import interface


def queue_signature(config, env_spec):
  """The structure of tf.TensorSpec of one queue item: one actor's unroll."""
  step_specs = trajectories.step_spec(env_spec, env_spec.distribution, config.envs_per_actor,
                                      config.lstm_units if config.use_lstm else 0)
  return trajectories.item_signature(step_specs, config.unroll_length)


class ImpalaAgent(interface.Agent):
  """IMPALA on the shared actor and learner loops."""

  data_table = trajectory_queue.TRAJECTORY_TABLE

  # --- learner side -------------------------------------------------------------
  def make_step(self, env_spec, strategy):
    return train_step.TrainStep(self.config, env_spec, strategy)

  def data_tables(self, step, env_spec):
    del step
    return trajectory_queue.tables(self.config, queue_signature(self.config, env_spec))

  def data_capacity(self) -> int:
    return self.config.queue_capacity

  def make_input(self, learner, address, env_spec):
    del learner
    return trajectory_queue.learner_input(address, self.config,
                                          queue_signature(self.config, env_spec))

  # --- actor side -----------------------------------------------------------------
  def acting_network(self, env_spec):
    return networks.make_acting_network(self.config, env_spec)

  def make_adder(self, actor):
    return unroll_adder.UnrollAdder(self.config, actor)
