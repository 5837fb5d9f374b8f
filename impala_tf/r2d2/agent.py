"""R2D2 as an agent of the shared actor and learner loops (`impala_tf.agents`).

Learner: the prioritised sequence table (`replay`) and the actors' progress
queue (`progress`) beside the weights tables; batches of B sequences sampled
from replay (the rate limiter holds `r2d2_samples_per_insert`); the step in
`learner_step`.

Actor: ε-greedy over the recurrent Q network, actor i of N with its ε from
the ladder (`exploration`); each environment's steps cut into sequences of
`r2d2_burn_in + r2d2_sequence_length` steps, a new one every
`r2d2_sequence_period` (`sequences.SequenceBuilder`, with the burn-in as its
lead), each stored with the LSTM state before its first step, the
weights version that acted and, as its priority, the TD errors of the Q
values it acted with (`actor_priorities`). Each step goes to Reverb once
(`replay.SequenceWriter`); a sequence is an item over the steps it spans.
"""

import functools
import math
import time

from absl import logging
import numpy as np
import reverb
import tensorflow as tf

from impala_tf import agents
from impala_tf import trajectories
from impala_tf import weights as weights_lib
from impala_tf.r2d2 import actor_priorities
from impala_tf.r2d2 import exploration
from impala_tf.r2d2 import learner_step
from impala_tf.r2d2 import networks as r2d2_networks
from impala_tf.r2d2 import progress
from impala_tf.r2d2 import replay
from impala_tf.r2d2 import sequences

# A new sequence's priority with r2d2_actor_priorities=False, until the
# learner has computed its TD errors: above what trained sequences settle
# at, so it is sampled soon (Schaul et al.'s "new transitions first"; see
# docs/r2d2.md).
INITIAL_PRIORITY = 1.0
# How long the learner's sample stream waits on the rate limiter before it
# is reopened (it then notices a stopped server).
STREAM_TIMEOUT_MS = 2000


def sequence_signature(config, env_spec):
  """The structure of tf.TensorSpec of one replay sequence."""
  length = config.r2d2_burn_in + config.r2d2_sequence_length
  spec = lambda shape, dtype: tf.TensorSpec([length, *shape], dtype)
  signature = {
      'observation': spec(env_spec.observation_shape, tf.as_dtype(env_spec.observation_dtype)),
      'first': spec((), tf.bool),
      'prev_action': spec((), tf.int32),
      'prev_reward': spec((), tf.float32),
      'action': spec((), tf.int32),
      'reward': spec((), tf.float32),
      'discount': spec((), tf.float32),
      'mask': spec((), tf.float32),
      'weights_version': tf.TensorSpec([], tf.int64),
  }
  if config.use_lstm:
    state = tf.TensorSpec([config.lstm_units], tf.float32)
    signature['core_state'] = (state, state)
  return signature


def check_action_space(config, env_spec):
  """R2D2 picks argmax_a Q(s, a): it needs a discrete action space."""
  if not hasattr(env_spec.distribution, 'num_actions'):
    raise ValueError(
        f"architecture='r2d2' needs a discrete action space; env_id={config.env_id!r} has "
        f'continuous actions {env_spec.action_space}.')


class R2D2Agent(agents.ImpalaAgent):
  """R2D2 on IMPALA's actors, Reverb server and learner loop."""

  data_table = replay.SEQUENCE_TABLE

  # --- learner side -------------------------------------------------------------
  def make_step(self, env_spec, strategy):
    check_action_space(self.config, env_spec)
    return learner_step.R2D2Step(self.config, env_spec, strategy)

  def data_tables(self, step, queue_signature):
    del queue_signature
    config = self.config
    return [replay.table(sequence_signature(config, step.env_spec),
                         capacity=config.r2d2_replay_capacity,
                         priority_exponent=config.r2d2_priority_exponent,
                         samples_per_insert=config.r2d2_samples_per_insert,
                         min_size=config.r2d2_replay_min_size),
            progress.table()]

  def data_capacity(self) -> int:
    return self.config.r2d2_replay_capacity

  def make_input(self, learner, address, queue_signature):
    del queue_signature
    config = self.config
    client = reverb.Client(address)
    reader = progress.ProgressReader(client)
    learner.train_step_fn.bind(client, reader)

    def dataset_fn(context):
      # Each replica reads its share of the batch (see learner_step).
      batch_size = context.get_per_replica_batch_size(config.batch_size)

      def stream(_):
        return reverb.TrajectoryDataset.from_table_signature(
            server_address=address, table=replay.SEQUENCE_TABLE,
            max_in_flight_samples_per_worker=2 * config.batch_size,
            num_workers_per_iterator=1, rate_limiter_timeout_ms=STREAM_TIMEOUT_MS)
      samples = tf.data.Dataset.from_tensors(0).repeat().flat_map(stream)
      return samples.batch(batch_size, drop_remainder=True).prefetch(1)

    def ready():
      # Called before every step: progress is drained while replay fills, so
      # actors never wait on it, and then before each step, which reports it.
      info = client.server_info()
      reader.drain(info, replay.SEQUENCE_TABLE)
      if info[replay.SEQUENCE_TABLE].current_size < config.r2d2_replay_min_size:
        time.sleep(agents.DATA_POLL_SECONDS)
        return False
      return True

    return agents.LearnerInput(dataset_fn, ready)

  # --- actor side -----------------------------------------------------------------
  def acting_network(self, env_spec):
    check_action_space(self.config, env_spec)
    return r2d2_networks.make_network(self.config, env_spec.observation_shape,
                                      env_spec.distribution.num_actions,
                                      env_spec.channels_first, build=False)

  def acting_distribution(self, env_spec, actor_index):
    config = self.config
    epsilon = exploration.actor_epsilon(actor_index % config.num_actors, config.num_actors,
                                        config.r2d2_epsilon_base, config.r2d2_epsilon_alpha)
    logging.info('actor %d: R2D2, ε = %.5f.', actor_index, epsilon)
    return exploration.EpsilonGreedy(env_spec.distribution.num_actions, epsilon)

  def send(self, actor, client, max_unrolls, stop):
    SequenceSender(self.config, actor).run(client, max_unrolls, stop)


class SequenceSender:
  """An actor's R2D2 loop: acts, cuts sequences, writes them and its progress.

  Each environment has a `sequences.SequenceBuilder` writing through its own
  `replay.SequenceWriter`, so each step is stored once however many
  sequences hold it. `max_unrolls` counts blocks of `r2d2_sequence_period`
  steps (what an IMPALA actor's unroll is to its loop). The builders live on
  the actor, so after a reconnect each environment's open sequences continue
  into the new writers.
  """

  def __init__(self, config, actor):
    self._config = config
    self._actor = actor
    self._length = config.r2d2_burn_in + config.r2d2_sequence_length
    if not hasattr(actor, 'r2d2_builders'):
      actor.r2d2_builders = [
          sequences.SequenceBuilder(self._length, config.r2d2_sequence_period,
                                    lead=config.r2d2_burn_in)
          for _ in range(config.envs_per_actor)]
    self._builders = actor.r2d2_builders

  def run(self, client, max_unrolls, stop):
    actor, config = self._actor, self._config
    subscriber = weights_lib.WeightSubscriber(client, actor.policy.set_weights)
    subscriber.version = actor.weights_version
    writers = [replay.SequenceWriter(client, self._length, self._priority(),
                                     lambda: actor.weights_version, config.use_lstm)
               for _ in self._builders]
    for builder, writer in zip(self._builders, writers):
      builder.attach(writer)
    progress_writer = client.trajectory_writer(num_keep_alive_refs=1)
    try:
      while not stop.is_set() and (max_unrolls is None or actor.unrolls < max_unrolls):
        if not actor.fetch_weights(subscriber):
          break
        frames_before = actor.env_frames
        episodes = []
        for _ in range(config.r2d2_sequence_period):
          self._step(episodes)
        for item in progress.items(actor.env_frames - frames_before, episodes):
          trajectories.insert_step_item(progress_writer, progress.PROGRESS_TABLE, 1.0, item)
        actor.unrolls += 1
        t0 = time.perf_counter()
        # Backpressure: the rate limiter holds inserts once actors are
        # further ahead of the learner than the replay ratio allows.
        flushed = all(actor.flush(w.writer, 0, stop) for w in writers)
        flushed = flushed and actor.flush(progress_writer, 0, stop)
        actor.timers['reverb'] += time.perf_counter() - t0
        if not flushed:
          break
        actor.log_progress()
    finally:
      for writer in writers:
        writer.close()
      progress_writer.close()

  def _priority(self):
    """What a new sequence's priority is: the TD errors of the actor's own
    Q values (Ape-X's and the paper's actors), or a constant."""
    config = self._config
    if not config.r2d2_actor_priorities:
      return INITIAL_PRIORITY
    compute = functools.partial(
        actor_priorities.sequence_priority, burn_in=config.r2d2_burn_in,
        n=config.r2d2_n_step, epsilon=config.r2d2_value_rescaling_epsilon,
        eta=config.r2d2_priority_eta)

    def priority(*columns):
      # A non-finite reward or Q value must not reach Reverb's sampler; the
      # learner skips (and counts) the update such a sequence is in.
      p = compute(*columns)
      return p if math.isfinite(p) else INITIAL_PRIORITY
    return priority

  def _step(self, episodes):
    """One step of every environment, each written to its builder; appends
    the episodes it finished to `episodes`."""
    actor = self._actor
    before = actor.observation_part()
    observation = np.array(before['observation'])   # the env reuses its buffer
    state = before.get('core_state', ())
    taken = []
    actor.act_and_step(taken.append)
    action, q_values = taken[0]['action'], taken[0]['policy_params']
    after = actor.observation_part()
    discount = np.where(after['terminal'], 0.0, self._config.discount).astype(np.float32)
    t0 = time.perf_counter()
    for i, builder in enumerate(self._builders):
      if before['last'][i]:
        continue   # the step that reset this environment: no decision was made
      step = {'observation': observation[i], 'first': before['first'][i],
              'prev_action': before['prev_action'][i], 'prev_reward': before['reward'][i],
              'action': action[i], 'reward': after['reward'][i], 'discount': discount[i],
              # Kept by the writer if its priority is a function of them.
              replay.Q_VALUES: q_values[i]}
      builder.add(step, tuple(s[i] for s in state))
      if after['last'][i]:
        builder.end_episode()
        episodes.append((float(after['episode_return'][i]),
                         int(after['episode_length'][i]), actor.task_id))
    actor.timers['reverb'] += time.perf_counter() - t0
