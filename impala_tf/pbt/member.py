"""One population member's controller, running inside its learner.

Every `pbt_interval_seconds` the member writes a checkpoint of what another
member would copy (network, optimiser, hyperparameters, PopArt statistics)
into the population directory, then its state (fitness, frames, episodes,
hyperparameters). When it is ready (past the burn-in, `pbt_ready_episodes`
episodes since its last exploit) it draws another member at random; if that
one is better by more than `pbt_exploit_threshold`, it restores that
member's newest complete checkpoint (not its counters: frames and steps stay
its own), perturbs the copied hyperparameters, and the learner publishes
the new weights to its actors at once. Each decision is appended to the
member's lineage log.

No process coordinates the population: a member that crashes restarts from
its own learner checkpoint, finds its state and lineage in the directory,
and carries on; the others read whatever it last published.
"""

import math
import time

from absl import logging
import numpy as np
import tensorflow as tf

from impala_tf import atari_scores
from impala_tf.pbt import population as population_lib
from impala_tf.pbt import rules


def hyperparameter_ranges(config):
  return {
      'learning_rate': tuple(config.pbt_learning_rate_range),
      'entropy_cost': tuple(config.pbt_entropy_cost_range),
      'optimizer_epsilon': tuple(config.pbt_optimizer_epsilon_range),
      'grad_clip_norm': tuple(config.pbt_grad_clip_norm_range),
  }


class Member:
  """PBT for one learner (see the module docstring)."""

  def __init__(self, config, population_dir: str, member: int, learner):
    self._config = config
    self.member = member
    self.population = population_lib.Population(population_dir)
    self._learner = learner
    step = learner.train_step_fn
    self._variables = {
        'learning_rate': step.hyperparameters.learning_rate,
        'entropy_cost': step.hyperparameters.entropy_cost,
        'optimizer_epsilon': step.optimizer.epsilon,
        'grad_clip_norm': step.hyperparameters.grad_clip_norm,
    }
    self._searched = tuple(config.pbt_hyperparameters)
    self._ranges = {k: v for k, v in hyperparameter_ranges(config).items()
                    if k in self._searched}
    copied = dict(network=step.network, optimizer=step.optimizer,
                  hyperparameters=step.hyperparameters)
    if step.popart is not None:
      copied['popart'] = step.popart
    self._copied = tf.train.Checkpoint(**copied)
    self._manager = tf.train.CheckpointManager(
        self._copied, self.population.checkpoint_dir(member), max_to_keep=2)
    self._rng = np.random.default_rng([config.seed, member, int(time.time())])
    self._last_publish = 0.0
    self.exploits = 0
    self.explores = 0
    state = self.population.read_state(member)
    if state is None:
      # A new member: its starting hyperparameters.
      if config.pbt_sample_initial:
        initial = rules.sample_initial(np.random.default_rng([config.seed, member]),
                                       self._ranges, log_uniform=tuple(self._ranges))
        self._assign(initial)
      self._episodes_at_change = learner.episodes
      self._log('start', None, {}, self.hyperparameters())
    else:
      # Restarted: its learner restored the hyperparameters; the counters of
      # the population carry on from its last published state (episode
      # counts restart with the process, progress towards readiness does not).
      since_change = state.get('episodes', 0) - state.get('episodes_at_change', 0)
      self._episodes_at_change = learner.episodes - since_change
      self.exploits = state.get('exploits', 0)
      self.explores = state.get('explores', 0)
      self._log('restart', None, {}, self.hyperparameters())

  # --- Hyperparameters -----------------------------------------------------------
  def hyperparameters(self):
    return {name: float(self._variables[name].numpy()) for name in self._searched}

  def _assign(self, values):
    for name, value in values.items():
      self._variables[name].assign(value)

  # --- Fitness ---------------------------------------------------------------------
  def fitness(self):
    """Mean return of the recent episodes; for several Atari games, the
    mean capped human-normalised score (paper Appendix F), when every game
    has finished episodes. None before any episode."""
    learner = self._learner
    per_task = learner.task_returns()
    if self._config.num_tasks > 1 and self._config.is_atari:
      if any(v is None for v in per_task.values()):
        return None
      scores = [atari_scores.human_normalized(env_id, per_task[name]) for name, env_id in
                zip(self._config.task_names, self._config.task_ids)]
      if all(s is not None for s in scores):
        return float(np.mean([min(s, 1.0) for s in scores]))
    return learner.episode_return_mean()

  # --- The loop ----------------------------------------------------------------------
  def after_step(self):
    """Called by the learner after each step; acts every pbt_interval_seconds.
    Returns True when the weights changed (the learner publishes them)."""
    now = time.time()
    if now - self._last_publish < self._config.pbt_interval_seconds:
      return False
    self._last_publish = now
    self._publish()
    learner = self._learner
    if not rules.is_ready(learner.frames, learner.episodes - self._episodes_at_change,
                          self._config.pbt_burn_in_frames, self._config.pbt_ready_episodes):
      return False
    return self._exploit_and_explore()

  def finish(self):
    """Publishes the final state (the learner calls it when it stops)."""
    self._publish()

  def _publish(self):
    self._manager.save(checkpoint_number=self._learner.step)
    fitness = self.fitness()
    self.population.write_state(self.member, {
        'member': self.member,
        'fitness': fitness if fitness is None or math.isfinite(fitness) else None,
        'frames': self._learner.frames,
        'episodes': self._learner.episodes,
        'episodes_at_change': self._episodes_at_change,
        'hyperparameters': self.hyperparameters(),
        'exploits': self.exploits,
        'explores': self.explores,
        'time': time.time(),
    })

  def _exploit_and_explore(self):
    # Ready: the clock for the next decision starts now, whatever it is.
    self._episodes_at_change = self._learner.episodes
    other = rules.pick_other(self._rng, self.member, self.population.members())
    if other is None:
      return False
    theirs = self.population.read_state(other)
    path = self.population.latest_checkpoint(other)
    mine = self.fitness()
    if (theirs is None or path is None
        or not rules.should_exploit(mine, theirs.get('fitness'),
                                    self._config.pbt_exploit_threshold)):
      return False
    before = self.hyperparameters()
    self._copied.restore(path).expect_partial()
    copied = self.hyperparameters()
    self.exploits += 1
    self._log('exploit', other, before, copied, own_fitness=mine,
              source_fitness=theirs.get('fitness'), checkpoint=path)
    explored = rules.explore(self._rng, copied, self._ranges,
                             self._config.pbt_perturb_factor,
                             self._config.pbt_perturb_probability)
    self._assign(explored)
    self.explores += 1
    self._log('explore', None, copied, explored)
    logging.info('pbt member %d: copied member %d (fitness %s > %s), hyperparameters %s',
                 self.member, other, theirs.get('fitness'), mine, explored)
    self._publish()
    return True

  def _log(self, event, source, before, after, **extra):
    self.population.append_lineage(self.member, dict(
        time=time.time(), member=self.member, frames=self._learner.frames, event=event,
        source=source, before=before, after=after, **extra))
