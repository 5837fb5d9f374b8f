"""MERLIN on the shared actor and learner loops.

Its actors write unrolls into the trajectory queue exactly as IMPALA's do
(the same adder, `impala_tf.unroll_adder`); what differs is the recurrent state each unroll carries
(both LSTMs, the memory, the last reads: `networks.MerlinState`) and the
learner step (`learner_step.MerlinStep`).
"""

import tensorflow as tf

from impala_tf import trajectories
from impala_tf import trajectory_queue
from impala_tf import unroll_adder
from impala_tf.agents import interface
from impala_tf.agents.merlin import learner_step
from impala_tf.agents.merlin import networks


def state_spec(config, env_spec, num_envs: int):
  """The structure of tf.TensorSpec of `num_envs` environments' state."""
  network = networks.make_network(config, env_spec, build=False)
  return tf.nest.map_structure(lambda s: tf.TensorSpec(s.shape, s.dtype),
                               network.initial_state(num_envs))


def queue_signature(config, env_spec):
  """One queue item: an actor's unroll and the state at its first step."""
  step_specs = trajectories.step_spec(
      env_spec, env_spec.distribution, config.envs_per_actor,
      core_state=state_spec(config, env_spec, config.envs_per_actor))
  return trajectories.item_signature(step_specs, config.unroll_length)


def item_bytes(config, env_spec) -> int:
  """Bytes of one queue item (the memory dominates: rows × 2|z| floats per
  environment)."""
  return sum(s.shape.num_elements() * s.dtype.size
             for s in tf.nest.flatten(queue_signature(config, env_spec)))


class MerlinAgent(interface.Agent):
  """MERLIN: the MBP and the policy, trained by the V-trace learner."""

  data_table = trajectory_queue.TRAJECTORY_TABLE

  def make_step(self, env_spec, strategy):
    return learner_step.MerlinStep(self.config, env_spec, strategy)

  def data_tables(self, step, env_spec):
    del step
    return trajectory_queue.tables(self.config, queue_signature(self.config, env_spec))

  def data_capacity(self) -> int:
    return self.config.queue_capacity

  def make_input(self, learner, address, env_spec):
    del learner
    return trajectory_queue.learner_input(address, self.config,
                                          queue_signature(self.config, env_spec))

  def exported_network(self, network):
    # The posterior's mean, not a sample: a deterministic greedy export.
    return networks.MeanLatent(network)

  def acting_network(self, env_spec):
    return networks.make_network(self.config, env_spec, build=False)

  def make_adder(self, actor):
    return unroll_adder.UnrollAdder(self.config, actor)
