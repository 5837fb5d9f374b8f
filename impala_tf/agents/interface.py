"""The one interface every agent implements, and what the shared loops call.

An agent is what differs between IMPALA, its baselines, R2D2 and the agents
to come; the actor loop (`impala_tf.actor`) and the learner loop
(`impala_tf.learner`) call only what is defined here and never branch on
the agent's name:

  learner  `make_step`: the compiled step (a `LearnerStep`); `data_tables`:
           the Reverb tables the learner's server holds beside the weights;
           `make_input`: where batches come from and when one is ready;
           `actors_to_tell`: how many actors read the end of a run.
  actor    `acting_network` and `acting_distribution`: what the actor's graph
           policy runs; `gradients`: whether its graph also builds the loss's
           gradients (A3C); `make_adder`: what the actor writes to Reverb,
           and how.

The other half of an agent's interface is TensorFlow-free: its entry in
`impala_tf.agents.registry` (whether it runs actor processes, its tables,
the options it refuses, its config section, the hyperparameters PBT may
evolve, as `Hyperparameter`s), which picks the agent once. docs/agents.md has
the data flow and a checklist for adding an agent.
"""

import abc
import time
from typing import Dict, Sequence

from impala_tf.agents import hyperparameters

# While the queue holds less than a batch, the learner checks it this often
# (seconds), staying responsive to stop requests.
DATA_POLL_SECONDS = 0.005


# What an agent's searchable hyperparameters are declared as (its registry
# entry's `searchable`).
Hyperparameter = hyperparameters.Hyperparameter


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
      info = self._client.server_info()[self._table]
      sampled = info.rate_limiter_info.sample_stats.completed
      self._ready = info.current_size + sampled - self._consumed
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


# The counters every learner step keeps (and a PBT exploit does not copy).
COUNTERS = ('env_frames', 'learner_steps', 'skipped_updates')


class LearnerStep(abc.ABC):
  """The compiled step the learner loop calls, and what it reads of it.

  Attributes every step sets in its constructor: `network` (a Keras model
  whose `variables` are published to actors), `optimizer`,
  `hyperparameters` (a `tf.Module` whose variables PBT may set),
  `env_frames`, `learner_steps` and `skipped_updates` (int64 counter
  variables), `checkpointables` (name -> trackable, what a checkpoint
  holds) and `stat_names` (the columns of the statistics it returns).
  """

  @abc.abstractmethod
  def __call__(self, iterator):
    """Takes `steps_per_call` batches from `iterator` and updates.

    Returns (stats [k, len(stat_names)], episodes: k per-replica tensors
    [5, T, E] of `trajectories.EPISODE_ROWS`).
    """

  @abc.abstractmethod
  def frames_of_call(self, steps: int) -> int:
    """Environment frames `steps` learner steps consumed."""

  @abc.abstractmethod
  def metrics(self, stats, step_before) -> Dict[str, float]:
    """The named metrics of one row of statistics."""

  def copied_by_exploit(self) -> Dict[str, object]:
    """What a PBT exploit copies from a better member: everything its
    checkpoint holds but the counters of this learner's own progress."""
    return {k: v for k, v in self.checkpointables.items() if k not in COUNTERS}

  def hyperparameter_variables(self) -> Dict[str, object]:
    """{name: tf.Variable} of what PBT may set (`Agent.searchable`)."""
    return {}

  def task_summaries(self, task_names: Sequence[str]) -> Dict[str, float]:
    """Per-task scalars for TensorBoard beyond the returns (PopArt's
    statistics); none by default."""
    del task_names
    return {}


class Adder(abc.ABC):
  """What an actor writes to Reverb, and how (Acme's adders).

  Made once per actor process by `Agent.make_adder(actor)`, so it outlives
  reconnections: state that spans them (R2D2's open sequences) lives here.
  The actor loop drives it in blocks: between blocks it fetches the newest
  weights, so each block acts with one weights version.

    adder.open(client, part)         a (re)connection; `part` is the
                                     observation the next step acts on
    per block:
      for _ in range(steps_per_block):
        adder.add(action, part)      the step's action columns, and the
                                     observation part the step led to
      adder.end_block(stop)          writes what the block completed and
                                     waits for the server; False if stopped
    adder.close()                    releases the connection's writers

  Parts are the actor's numpy columns (`stepping.Stepper.observation_part`);
  the environments reuse their buffers, so an adder keeping one copies it.
  """

  steps_per_block: int

  @abc.abstractmethod
  def open(self, client, part):
    """Starts writing through `client`; `part` is the current observation."""

  @abc.abstractmethod
  def add(self, action, part):
    """One step: `action` = {'action', 'policy_params', 'weights_version'}
    columns of the step; `part` = the observation part after it."""

  @abc.abstractmethod
  def end_block(self, stop) -> bool:
    """Ends a block of `steps_per_block` steps; False when `stop` was set
    while waiting for the server."""

  @abc.abstractmethod
  def close(self):
    """Closes the writers `open` made (the connection may be gone)."""


class Agent(abc.ABC):
  """One agent: its learner step, its tables and input, its acting and its
  adder. Constructed from the run's config (`registry.make`)."""

  # The actor's graph policy also builds the loss's gradients (A3C).
  gradients = False
  # The Reverb table its actors fill (queue size and the run end read it).
  data_table: str = ''

  def __init__(self, config):
    self.config = config

  # --- learner side -------------------------------------------------------------
  @abc.abstractmethod
  def make_step(self, env_spec, strategy) -> LearnerStep:
    """The learner's step, built under `strategy.scope()`."""

  @abc.abstractmethod
  def data_tables(self, step, env_spec) -> list:
    """The `reverb.Table`s the learner's server holds for this agent."""

  @abc.abstractmethod
  def data_capacity(self) -> int:
    """Items `data_table` holds when full (the status file's fill)."""

  @abc.abstractmethod
  def make_input(self, learner, address, env_spec) -> LearnerInput:
    """Where the learner's batches come from (its server is at `address`)."""

  def exported_network(self, network):
    """What the SavedModel export wraps for the learner's `network`
    (anything with `step`, `initial_state` and `needs_task`): the network
    itself, unless the agent acts differently when exported (MERLIN's
    deterministic latent)."""
    return network

  def actors_to_tell(self) -> int:
    """Actor processes that must read the end of the run."""
    return self.config.num_actors

  # --- actor side -----------------------------------------------------------------
  @abc.abstractmethod
  def acting_network(self, env_spec):
    """The Keras network the actors act with (unbuilt); its variables
    match the learner step's `network.variables` one to one."""

  def acting_distribution(self, env_spec, actor_index: int):
    """The distribution actions are drawn from (R2D2: its ε-greedy)."""
    del actor_index
    return env_spec.distribution

  @abc.abstractmethod
  def make_adder(self, actor) -> Adder:
    """The adder of one actor process (`actor` is its `actor.Actor`)."""

