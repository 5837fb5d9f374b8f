"""Agents whose actors write IMPALA's unrolls with a recurrent state of
their network's own structure (MERLIN's memory, FTW's two cores).

Their actors write unrolls into the trajectory queue exactly as IMPALA's do
(`impala_tf.unroll_adder`); each queue item also holds the network's whole
state as it was at the unroll's first step, so an unroll that starts
mid-episode resumes it. What differs between them is the network
(`make_network`), its learner step (`step_class`) and the exported network.
"""

import tensorflow as tf

from impala_tf import trajectories
from impala_tf import trajectory_queue
from impala_tf import unroll_adder
from impala_tf.agents import interface


def state_spec(make_network, config, env_spec, num_envs: int):
  """The structure of tf.TensorSpec of `num_envs` environments' state."""
  network = make_network(config, env_spec, build=False)
  return tf.nest.map_structure(lambda s: tf.TensorSpec(s.shape, s.dtype),
                               network.initial_state(num_envs))


def queue_signature(make_network, config, env_spec):
  """One queue item: an actor's unroll and the state at its first step."""
  step_specs = trajectories.step_spec(
      env_spec, env_spec.distribution, config.envs_per_actor,
      core_state=state_spec(make_network, config, env_spec, config.envs_per_actor))
  return trajectories.item_signature(step_specs, config.unroll_length)


def item_bytes(make_network, config, env_spec) -> int:
  """Bytes of one queue item."""
  return sum(s.shape.num_elements() * s.dtype.size
             for s in tf.nest.flatten(queue_signature(make_network, config, env_spec)))


class StateUnrollAgent(interface.Agent):
  """The shared loops' IMPALA data path around an agent's own network and
  step: subclasses set `make_network` (fn(config, env_spec, build)) and
  `step_class` (a `train_step.TrainStep`)."""

  data_table = trajectory_queue.TRAJECTORY_TABLE
  make_network = None
  step_class = None

  def _signature(self, env_spec):
    return queue_signature(type(self).make_network, self.config, env_spec)

  def make_step(self, env_spec, strategy):
    return self.step_class(self.config, env_spec, strategy)  # pylint: disable=not-callable

  def data_tables(self, step, env_spec):
    del step
    return trajectory_queue.tables(self.config, self._signature(env_spec))

  def data_capacity(self) -> int:
    return self.config.queue_capacity

  def make_input(self, learner, address, env_spec):
    del learner
    return trajectory_queue.learner_input(address, self.config, self._signature(env_spec))

  def acting_network(self, env_spec):
    return type(self).make_network(self.config, env_spec, build=False)

  def make_adder(self, actor):
    return unroll_adder.UnrollAdder(self.config, actor)
