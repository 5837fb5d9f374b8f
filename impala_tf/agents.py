"""The agents the actor and learner loops run, each chosen once from the config.

An agent is what differs between IMPALA, its baselines and R2D2; the loops
in `actor.py` and `learner.py` call these parts and never branch on the
agent's name:

  learner  `make_step`: the compiled step (network, optimiser, counters,
           `__call__(iterator)`, `metrics`); `data_tables`: the Reverb
           tables its server holds beside the weights; `make_input`: where
           batches come from and when one is ready; `actors_to_tell`: how
           many actors read the end of a run.
  actor    `acting_network` and `acting_distribution`: what the actor's
           graph policy runs; `gradients`: whether it also builds the loss's
           gradients (A3C); `send`: the loop that fills the learner's tables.

`for_config` picks the agent once; a new agent is a class here (or in its
own subpackage, as `impala_tf.r2d2.agent` is) plus its config choice.
"""

import time

from impala_tf import networks
from impala_tf import trajectory_queue

# While the queue holds less than a batch, the learner checks it this often
# (seconds), staying responsive to stop requests.
DATA_POLL_SECONDS = 0.005


class QueueReadiness:
  """Says when `items_per_call` queue items can be had without blocking.

  Items the input pipeline already took from the queue (sampled minus
  trained on) count as ready, so none is lost or waited for twice.
  """

  def __init__(self, client, table, items_per_call):
    self._client, self._table, self._items_per_call = client, table, items_per_call
    self._consumed = 0
    self._ready = 0

  def __call__(self) -> bool:
    if self._ready < self._items_per_call:
      size, sampled = trajectory_queue.queue_counts(self._client, self._table)
      self._ready = size + sampled - self._consumed
      if self._ready < self._items_per_call:
        time.sleep(DATA_POLL_SECONDS)
        return False
    self._ready -= self._items_per_call
    self._consumed += self._items_per_call
    return True


def always_ready():
  return True


class LearnerInput:
  """Where a learner's batches come from.

  Attributes:
    dataset_fn: `fn(tf.distribute.InputContext) -> tf.data.Dataset`.
    ready: `fn() -> bool`, True when a call of the step will not block.
    close: `fn()`, releases what the input holds (a source's env processes).
  """

  def __init__(self, dataset_fn, ready=always_ready, close=lambda: None):
    self.dataset_fn, self.ready, self.close = dataset_fn, ready, close


class ImpalaAgent:
  """IMPALA (and synchronous batched A2C per trajectory, `synchronous=true`):
  actors send unrolls through the trajectory queue, the learner trains on
  them with V-trace."""

  gradients = False
  data_table = trajectory_queue.TRAJECTORY_TABLE

  def __init__(self, config):
    self.config = config

  # --- learner side -------------------------------------------------------------
  def make_step(self, env_spec, strategy):
    from impala_tf import train_step  # pylint: disable=g-import-not-at-top
    return train_step.TrainStep(self.config, env_spec, strategy)

  def data_tables(self, step, queue_signature):
    del step
    return trajectory_queue.tables(self.config, queue_signature)

  def data_capacity(self) -> int:
    return self.config.queue_capacity

  def make_input(self, learner, address, queue_signature) -> LearnerInput:
    config = self.config
    del learner

    def dataset_fn(context):
      return trajectory_queue.make_dataset(address, config, context.num_replicas_in_sync,
                                           signature=queue_signature)

    return LearnerInput(dataset_fn, self.queue_readiness(address))

  def items_per_call(self) -> int:
    """Queue items one call of the step consumes."""
    return self.config.fresh_items_per_batch * self.config.steps_per_call

  def queue_readiness(self, address):
    import reverb  # pylint: disable=g-import-not-at-top
    return QueueReadiness(reverb.Client(address), self.data_table, self.items_per_call())

  def actors_to_tell(self) -> int:
    return self.config.num_actors

  # --- actor side -----------------------------------------------------------------
  def acting_network(self, env_spec):
    return networks.make_network(self.config, env_spec.observation_shape,
                                 env_spec.distribution, env_spec.channels_first, build=False,
                                 action_masks=env_spec.action_masks)

  def acting_distribution(self, env_spec, actor_index):
    del actor_index
    return env_spec.distribution

  def send(self, actor, client, max_unrolls, stop):
    return actor.send_unrolls(client, max_unrolls, stop)


class A3CAgent(ImpalaAgent):
  """The paper's distributed A3C baseline (`impala_tf.a3c`): actors send
  gradients of their own unrolls, applied one by one as they arrive."""

  gradients = True

  @property
  def data_table(self):
    from impala_tf import a3c  # pylint: disable=g-import-not-at-top
    return a3c.GRADIENT_TABLE

  def make_step(self, env_spec, strategy):
    from impala_tf import a3c  # pylint: disable=g-import-not-at-top
    return a3c.A3CStep(self.config, env_spec, strategy)

  def data_tables(self, step, queue_signature):
    from impala_tf import a3c  # pylint: disable=g-import-not-at-top
    config = self.config
    return [a3c.gradient_table(config, a3c.gradient_signature(
        step.num_parameters, config.unroll_length, config.envs_per_actor))]

  def make_input(self, learner, address, queue_signature):
    from impala_tf import a3c  # pylint: disable=g-import-not-at-top
    return LearnerInput(lambda _: a3c.make_dataset(address), self.queue_readiness(address))

  def items_per_call(self) -> int:
    return 1   # one actor's gradient

  def send(self, actor, client, max_unrolls, stop):
    return actor.send_gradients(client, max_unrolls, stop)


class SyncStepAgent(ImpalaAgent):
  """Batched A2C synchronous per step (`impala_tf.sync_step`): no actor
  processes; the learner's own source steps every environment."""

  def make_input(self, learner, address, queue_signature):
    from impala_tf import sync_step  # pylint: disable=g-import-not-at-top
    # The source acts inside the train call, when the batch is asked for:
    # the weights are the previous call's (this call's update needs the
    # batch first) and so is the Python step count (steps_per_call is 1
    # here). The step variable is not: nothing orders its increment after
    # the batch is read.
    source = sync_step.SyncStepSource(self.config, learner.acting_weights)
    learner_input = LearnerInput(lambda _: source.dataset(), close=source.close)
    learner_input.source = source
    return learner_input

  def actors_to_tell(self) -> int:
    return 0

  def send(self, actor, client, max_unrolls, stop):
    raise ValueError("architecture='a2c_sync_step' runs no actor processes: its learner "
                     'steps every environment itself.')


def for_config(config):
  """The agent `config.architecture` names."""
  if config.architecture == 'r2d2':
    from impala_tf.r2d2 import agent  # pylint: disable=g-import-not-at-top
    return agent.R2D2Agent(config)
  agents = {'impala': ImpalaAgent, 'a3c': A3CAgent, 'a2c_sync_step': SyncStepAgent}
  return agents[config.architecture](config)
