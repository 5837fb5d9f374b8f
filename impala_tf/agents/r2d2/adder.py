"""What an R2D2 actor writes: each environment's steps cut into overlapping
sequences in prioritised replay, and the actor's progress.

Each environment has a `sequences.SequenceBuilder` writing through its own
`replay.SequenceWriter`, so each step is stored once however many
sequences hold it. A block is `r2d2.sequence_period` steps (what an IMPALA
actor's unroll is to the actor loop); after each, the frames it stepped and
the episodes it finished go to the progress queue. The builders belong to
the adder, which lives as long as the actor: after a reconnect each
environment's open sequences continue into the new writers.
"""

import functools
import math
import time

import numpy as np

from impala_tf import trajectories
from impala_tf.agents import interface
from impala_tf.agents.r2d2 import actor_priorities
from impala_tf.agents.r2d2 import progress
from impala_tf.agents.r2d2 import replay
from impala_tf.agents.r2d2 import sequences

# A new sequence's priority with r2d2_actor_priorities=False, until the
# learner has computed its TD errors: above what trained sequences settle
# at, so it is sampled soon (Schaul et al.'s "new transitions first"; see
# docs/r2d2.md).
INITIAL_PRIORITY = 1.0


class SequenceAdder(interface.Adder):
  """An R2D2 actor's writes: sequences per environment, progress per block."""

  def __init__(self, config, actor):
    self._config = config
    self._actor = actor
    self.steps_per_block = config.r2d2.sequence_period
    self._length = config.r2d2.burn_in + config.r2d2.sequence_length
    self.builders = [
        sequences.SequenceBuilder(self._length, config.r2d2.sequence_period,
                                  lead=config.r2d2.burn_in)
        for _ in range(config.envs_per_actor)]
    self._writers = []
    self._progress_writer = None
    self._before = None
    self._episodes = []
    self._frames_at_block = 0
    # Each environment's ε, reported with its episodes.
    epsilon = np.asarray(getattr(actor.acting_distribution, 'epsilon', 0.0), np.float32)
    self._epsilons = np.broadcast_to(epsilon, (config.envs_per_actor,))

  def open(self, client, part):
    actor = self._actor
    self._writers = [replay.SequenceWriter(client, self._length, self._priority(),
                                           lambda: actor.weights_version,
                                           self._config.use_lstm)
                     for _ in self.builders]
    for builder, writer in zip(self.builders, self._writers):
      builder.attach(writer)
    self._progress_writer = client.trajectory_writer(num_keep_alive_refs=1)
    self._before = self._keep(part)
    self._episodes = []
    self._frames_at_block = actor.env_frames

  @staticmethod
  def _keep(part):
    # The environments reuse their observation buffer.
    return dict(part, observation=np.array(part['observation']))

  def _priority(self):
    """What a new sequence's priority is: the TD errors of the actor's own
    Q values (Ape-X's and the paper's actors), or a constant."""
    config = self._config
    if not config.r2d2.actor_priorities:
      return INITIAL_PRIORITY
    compute = functools.partial(
        actor_priorities.sequence_priority, burn_in=config.r2d2.burn_in,
        n=config.r2d2.n_step, epsilon=config.r2d2.value_rescaling_epsilon,
        eta=config.r2d2.priority_eta)

    def priority(*columns):
      # A non-finite reward or Q value must not reach Reverb's sampler; the
      # learner skips (and counts) the update such a sequence is in.
      p = compute(*columns)
      return p if math.isfinite(p) else INITIAL_PRIORITY
    return priority

  def add(self, action, part):
    """One step of every environment, each written to its builder."""
    t0 = time.perf_counter()
    before, after = self._before, part
    actions, q_values = action['action'], action['policy_params']
    state = before.get('core_state', ())
    discount = np.where(after['terminal'], 0.0, self._config.discount).astype(np.float32)
    for i, builder in enumerate(self.builders):
      if before['last'][i]:
        continue   # the step that reset this environment: no decision was made
      step = {'observation': before['observation'][i], 'first': before['first'][i],
              'prev_action': before['prev_action'][i], 'prev_reward': before['reward'][i],
              'action': actions[i], 'reward': after['reward'][i], 'discount': discount[i],
              # Kept by the writer if its priority is a function of them.
              replay.Q_VALUES: q_values[i]}
      builder.add(step, tuple(s[i] for s in state))
      if after['last'][i]:
        builder.end_episode()
        self._episodes.append((float(after['episode_return'][i]),
                               int(after['episode_length'][i]), self._actor.task_id,
                               float(self._epsilons[i]), int(after['episode_version'][i])))
    self._before = self._keep(after)
    self._actor.timers['reverb'] += time.perf_counter() - t0

  def end_block(self, stop) -> bool:
    actor = self._actor
    for item in progress.items(actor.env_frames - self._frames_at_block, self._episodes):
      trajectories.insert_step_item(self._progress_writer, progress.PROGRESS_TABLE, 1.0, item)
    self._episodes = []
    self._frames_at_block = actor.env_frames
    t0 = time.perf_counter()
    # Backpressure: the rate limiter holds inserts once actors are further
    # ahead of the learner than the replay ratio allows.
    flushed = all(actor.flush(w.writer, 0, stop) for w in self._writers)
    flushed = flushed and actor.flush(self._progress_writer, 0, stop)
    actor.timers['reverb'] += time.perf_counter() - t0
    return flushed

  def close(self):
    for writer in self._writers:
      writer.close()
    if self._progress_writer is not None:
      self._progress_writer.close()
    self._writers, self._progress_writer = [], None
