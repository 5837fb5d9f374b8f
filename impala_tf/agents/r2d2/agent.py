"""R2D2 as an agent of the shared actor and learner loops.

Learner: the prioritised sequence table (`replay`) and the actors' progress
queue (`progress`) beside the weights tables; batches of B sequences sampled
from replay (the rate limiter holds `r2d2.samples_per_insert`); the step in
`learner_step`.

Actor: ε-greedy over the recurrent Q network, actor i of N with its ε from
the ladder (`exploration`); each environment's steps cut into sequences of
`r2d2.burn_in + r2d2.sequence_length` steps, a new one every
`r2d2.sequence_period` (`sequences.SequenceBuilder`, with the burn-in as its
lead), each stored with the LSTM state before its first step, the
weights version that acted and, as its priority, the TD errors of the Q
values it acted with (`actor_priorities`), all in the actor's adder
(`adder`). Each step goes to Reverb once (`replay.SequenceWriter`); a
sequence is an item over the steps it spans.
"""

import time

from absl import logging
import reverb
import tensorflow as tf

from impala_tf.agents import interface
from impala_tf.agents.r2d2 import adder
from impala_tf.agents.r2d2 import exploration
from impala_tf.agents.r2d2 import learner_step
from impala_tf.agents.r2d2 import networks as r2d2_networks
from impala_tf.agents.r2d2 import progress
from impala_tf.agents.r2d2 import replay

# How long the learner's sample stream waits on the rate limiter before it
# is reopened (it then notices a stopped server).
STREAM_TIMEOUT_MS = 2000


def sequence_signature(config, env_spec):
  """The structure of tf.TensorSpec of one replay sequence."""
  length = config.r2d2.burn_in + config.r2d2.sequence_length
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


class R2D2Agent(interface.Agent):
  """R2D2 on IMPALA's actors, Reverb server and learner loop."""

  data_table = replay.SEQUENCE_TABLE

  # --- learner side -------------------------------------------------------------
  def make_step(self, env_spec, strategy):
    check_action_space(self.config, env_spec)
    return learner_step.R2D2Step(self.config, env_spec, strategy)

  def data_tables(self, step, env_spec):
    del env_spec
    config = self.config
    return [replay.table(sequence_signature(config, step.env_spec),
                         capacity=config.r2d2.replay_capacity,
                         priority_exponent=config.r2d2.priority_exponent,
                         samples_per_insert=config.r2d2.samples_per_insert,
                         min_size=config.r2d2.replay_min_size),
            progress.table()]

  def data_capacity(self) -> int:
    return self.config.r2d2.replay_capacity

  def make_input(self, learner, address, env_spec):
    del env_spec
    config = self.config
    client = reverb.Client(address)
    num_envs = config.num_actors * config.envs_per_actor
    reader = progress.ProgressReader(
        client, exploration.greedy_end_epsilon(num_envs, config.r2d2.epsilon_base,
                                               config.r2d2.epsilon_alpha),
        greedy_share=exploration.greedy_end_size(num_envs) / num_envs)
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
      if info[replay.SEQUENCE_TABLE].current_size < config.r2d2.replay_min_size:
        time.sleep(interface.DATA_POLL_SECONDS)
        return False
      return True

    return interface.LearnerInput(dataset_fn, ready)

  # --- actor side -----------------------------------------------------------------
  def acting_network(self, env_spec):
    check_action_space(self.config, env_spec)
    return r2d2_networks.make_network(self.config, env_spec.observation_shape,
                                      env_spec.distribution.num_actions,
                                      env_spec.channels_first, build=False)

  def acting_distribution(self, env_spec, actor_index):
    config = self.config
    # The ladder runs over every acting environment of the run (the paper's
    # and seed_rl's), not over actors: 2 actors × 16 environments act with
    # 32 values of ε, not 2.
    epsilons = exploration.environment_epsilons(
        actor_index % config.num_actors, config.envs_per_actor, config.num_actors,
        config.r2d2.epsilon_base, config.r2d2.epsilon_alpha)
    logging.info('actor %d: R2D2, ε from %.5f to %.5f over its %d environments.',
                 actor_index, epsilons.max(), epsilons.min(), len(epsilons))
    return exploration.EpsilonGreedy(env_spec.distribution.num_actions, epsilons)

  def make_adder(self, actor):
    return adder.SequenceAdder(self.config, actor)

