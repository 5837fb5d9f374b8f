"""One population member's controller, running inside its learner.

Every `pbt.interval_frames` of its own frames the member checks whether it
is ready (past the burn-in, `pbt.ready_episodes` episodes since its last
decision). A ready member decides (IMPALA Appendix F; Jaderberg et al.
2017):

  exploit: it draws another live member of the population at random; if
    that one's fitness is higher by more than `pbt.exploit_margin`, it
    restores that member's newest checkpoint: network (with the observation
    normaliser), optimiser (slots and step), hyperparameters and PopArt
    statistics, not its counters (frames and steps stay its own);
  explore: whether or not it copied, each searched hyperparameter is
    perturbed (×1.2 or ÷1.2 with probability 0.33);

and its fitness window starts again. Then it publishes: a checkpoint of its
whole learner state (monotonically numbered, so no name is ever reused
while another member may be reading it) and its state file, whose fitness
is never the pre-copy one for copied weights. Each decision is appended to
the member's lineage log.

No process coordinates the population. A member that restarts resumes from
the newer of its learner checkpoint and its own published one (published
more often), rejoins with an empty fitness window, and carries on; the
others read whatever it last published, and stop considering it once its
heartbeat (rewritten every `pbt.heartbeat_frames` of its frames) is older
than `pbt.stale_seconds` by the shared directory's clock.
"""

import dataclasses
import math
import os
import re
import time

from absl import logging
import numpy as np
import tensorflow as tf

from impala_tf import atari_scores
from impala_tf import checkpoints
from impala_tf.agents import registry
from impala_tf.pbt import population as population_lib
from impala_tf.pbt import rules
from impala_tf.pbt import validation

# Published checkpoints a member keeps: another member may be restoring the
# previous ones while a new one is written.
MIN_CHECKPOINTS_KEPT = 3
_FRAMES_KEY = 'env_frames/.ATTRIBUTES/VARIABLE_VALUE'
# Random streams of a member, keyed on (seed, member[, stream, ...]).
_DECISION_STREAM = 1


def search_space(config, searchable):
  """The hyperparameters a member of `config` evolves: those of the agent's
  `searchable` (its registry entry's `Hyperparameter`s) that `config.pbt` names,
  with the ranges `config.pbt.ranges` sets in place of the agent's."""
  validation.check_searchable(config, searchable)
  by_name = {h.name: h for h in searchable}
  overrides = config.pbt.range_overrides()
  return tuple(dataclasses.replace(by_name[name], low=overrides[name][0],
                                   high=overrides[name][1])
               if name in overrides else by_name[name]
               for name in config.pbt.hyperparameters or tuple(by_name))


def fitness_window(config) -> rules.FitnessWindow:
  """The fitness of a member of `config`'s kind (see rules.FitnessWindow)."""
  normalizers = None
  # Human-normalised only when every game has reference scores.
  if config.is_atari and all(atari_scores.human_normalized(env_id, 0.0) is not None
                             for env_id in config.task_ids):
    cap = config.num_tasks > 1

    def normalizer(env_id):
      def f(mean):
        score = atari_scores.human_normalized(env_id, mean)
        return min(score, 1.0) if cap else score
      return f

    normalizers = [normalizer(env_id) for env_id in config.task_ids]
  return rules.FitnessWindow(config.num_tasks, config.pbt.min_episodes,
                             config.task_reward_scales, normalizers,
                             references=config.pbt.task_references)


def checkpoint_frames(path: str):
  """The frame counter stored in a learner or member checkpoint (None if unreadable)."""
  try:
    return int(tf.train.load_checkpoint(path).get_tensor(_FRAMES_KEY))
  except (tf.errors.OpError, ValueError, KeyError):
    return None


class Member:
  """PBT for one learner (see the module docstring)."""

  def __init__(self, config, population_dir: str, member: int, learner):
    validation.check_member(config)
    self._config = config
    self.member = member
    self.population = population_lib.Population(population_dir)
    self._learner = learner
    step = learner.train_step_fn
    # What this agent lets a population evolve, and where each one lives.
    self.search_space = search_space(config, registry.info(config.architecture).searchable)
    self._variables = step.hyperparameter_variables()
    self._searched = tuple(h.name for h in self.search_space)
    copied = step.copied_by_exploit()
    # What an exploit reads from another member's checkpoint, and what it
    # puts back if that read fails half-way.
    self._copy_view = tf.train.Checkpoint(**copied)
    self._copied_variables = checkpoints.variables_of(copied)
    # What this member publishes: its learner's whole state, so that it can
    # also resume from it.
    directory = self.population.checkpoint_dir(member)
    self._manager = tf.train.CheckpointManager(
        tf.train.Checkpoint(**step.checkpointables), directory,
        max_to_keep=max(MIN_CHECKPOINTS_KEPT, config.checkpoints_to_keep))
    self._save_number = 1 + max(
        [int(m.group(1)) for m in (re.search(r'ckpt-(\d+)\.index$', p) for p in
                                   tf.io.gfile.glob(os.path.join(directory, 'ckpt-*.index')))
         if m] or [0])
    self.window = fitness_window(config)
    self._next_check = learner.frames + config.pbt.interval_frames
    self._next_heartbeat = learner.frames
    self.exploits = 0
    self.explores = 0
    state = self.population.read_state(member)
    if state is None:
      # A new member: its starting hyperparameters.
      if config.pbt.sample_initial:
        initial = rules.sample_initial(np.random.default_rng([config.seed, member]),
                                       self.search_space)
        self._assign(initial)
      self._log('start', None, {}, self.hyperparameters())
    else:
      self.exploits = state.get('exploits', 0)
      self.explores = state.get('explores', 0)
      resumed = self._resume_newest()
      self._log('restart', None, {}, self.hyperparameters(), resumed_from=resumed,
                published_frames=state.get('frames'))

  # --- Hyperparameters -----------------------------------------------------------
  def hyperparameters(self):
    """{name: value} of the searched hyperparameters (a vector as a list)."""
    out = {}
    for spec in self.search_space:
      value = self._variables[spec.name].numpy()
      out[spec.name] = ([float(v) for v in value] if spec.kind == 'vector'
                        else int(value) if spec.kind == 'integer' else float(value))
    return out

  def _assign(self, values):
    for name, value in values.items():
      self._variables[name].assign(value)

  def decision_rng(self) -> np.random.Generator:
    """The generator of this member's next decision (whom to consider, how to
    explore): a function of the run's seed, the member and how many
    decisions it has made (`explores` counts every decision, and survives a
    restart in the state file). Not of the clock: a population started
    twice with one seed draws the same numbers at the same decisions. The
    stream tag keeps these draws apart from the initial sample's (keyed on
    the seed and member alone; numpy's seeding ignores trailing zeros)."""
    return np.random.default_rng([self._config.seed, self.member, _DECISION_STREAM,
                                  self.explores])

  # --- Fitness ---------------------------------------------------------------------
  def add_episodes(self, returns, tasks, start_versions):
    """Called by the learner with the episodes that ended in a batch: their
    returns, tasks and the weights version each started with."""
    self.window.add(returns, tasks, start_versions)

  def fitness(self):
    """The fitness this member publishes (None: not measured on these weights)."""
    value = self.window.value()
    return value if value is None or math.isfinite(value) else None

  # --- The loop ----------------------------------------------------------------------
  def after_step(self):
    """Called by the learner after each step; acts every pbt.interval_frames.
    Returns True when the weights changed (the learner publishes them)."""
    learner = self._learner
    if learner.frames >= self._next_heartbeat:
      self._heartbeat()
    if learner.frames < self._next_check:
      return False
    interval = self._config.pbt.interval_frames
    self._next_check = (learner.frames // interval + 1) * interval
    changed = False
    if rules.is_ready(learner.frames, self.window.episodes, self._config.pbt.burn_in_frames,
                      self._config.pbt.ready_episodes):
      changed = self._decide()
    self._publish()
    return changed

  def finish(self):
    """Publishes the final state (the learner calls it when it stops)."""
    self._publish()

  def _heartbeat(self):
    """Rewrites this member's heartbeat: its modification time, stamped by
    the shared directory's filesystem, is what others judge it alive by."""
    learner = self._learner
    self.population.write_heartbeat(self.member, learner.frames, learner.step)
    heartbeat = self._config.pbt.heartbeat_every()
    self._next_heartbeat = (learner.frames // heartbeat + 1) * heartbeat

  def _heartbeat_ages(self, members):
    """{member: seconds since its heartbeat}, each the difference of two
    modification times stamped by the shared directory's filesystem: this
    member's heartbeat, rewritten now, and the other's. No machine's own
    clock enters, so members whose clocks disagree judge each other
    rightly."""
    self._heartbeat()
    now = self.population.heartbeat_time(self.member)
    ages = {}
    for member in members:
      written = self.population.heartbeat_time(member)
      ages[member] = None if written is None or now is None else max(0.0, now - written)
    return ages

  def _publish(self):
    learner = self._learner
    path = self._manager.save(checkpoint_number=self._save_number)
    self._save_number += 1
    self.population.write_state(self.member, {
        'member': self.member,
        # The weights this fitness was measured on: one record, read once,
        # so a member that copies reads the fitness and the checkpoint of
        # the same publication (not a newer checkpoint, perhaps copied from
        # a third member, published between two reads).
        'checkpoint': path,
        'fitness': self.fitness(),
        'window_episodes': self.window.episodes,
        'frames': learner.frames,
        'step': learner.step,
        'episodes': learner.episodes,
        'hyperparameters': self.hyperparameters(),
        'exploits': self.exploits,
        'explores': self.explores,
        'time': time.time(),
    })

  def _decide(self):
    """Exploit (maybe), then explore; returns True if the weights were copied."""
    mine = self.fitness()
    states = {m: self.population.read_state(m) for m in self.population.members()}
    others = rules.candidates(states, self.member, self.population.size(),
                              self._heartbeat_ages(states), self._config.pbt.stale_seconds)
    rng = self.decision_rng()
    other = rules.pick_other(rng, self.member, others)
    copied = False
    if other is not None and rules.exploit_rule(self._config.pbt)(mine,
                                                                  states[other]['fitness']):
      path = states[other].get('checkpoint')
      before = self.hyperparameters()
      if path is None:
        logging.warning('pbt member %d: member %d published no checkpoint with its fitness; '
                        'exploit skipped.', self.member, other)
        self._log('exploit_skipped', other, {}, {}, own_fitness=mine,
                  source_fitness=states[other]['fitness'], reason='no checkpoint published')
      elif self._restore_other(path, other):
        copied = True
        self.exploits += 1
        self._log('exploit', other, before, self.hyperparameters(), own_fitness=mine,
                  source_fitness=states[other]['fitness'], checkpoint=path)
        logging.info('pbt member %d: copied member %d (fitness %s > %s).', self.member,
                     other, states[other]['fitness'], mine)
    # The window starts again: after a copy it measures the new weights,
    # on episodes they played from the start (the learner publishes them as
    # version `step` right after this decision).
    self.window.reset(keep=not copied,
                      from_version=self._learner.step if copied else None)
    before = self.hyperparameters()
    explored = rules.explore(rng, before, self.search_space, self._config.pbt.perturb_factor,
                             self._config.pbt.perturb_probability)
    self._assign(explored)
    self.explores += 1
    self._log('explore', None, before, explored, own_fitness=mine)
    return copied

  def _restore_other(self, path, other):
    """Restores another member's checkpoint; on failure puts every variable
    back as it was, logs it, and returns False."""
    try:
      checkpoints.restore_all_or_nothing(self._copy_view, path, self._copied_variables,
                                         partial=True)
      return True
    except checkpoints.RESTORE_ERRORS as e:
      reason = f'{type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ""}'
      logging.warning('pbt member %d: could not restore %s (%s); exploit skipped.',
                      self.member, path, reason)
      self._log('exploit_failed', other, {}, {}, checkpoint=path, reason=reason)
      return False

  def _resume_newest(self):
    """After a restart: the member's own published checkpoint if it is newer
    than what its learner restored. Returns the path resumed from (None:
    the learner's own)."""
    path = self.population.latest_checkpoint(self.member)
    frames = checkpoint_frames(path) if path else None
    if frames is None or frames <= self._learner.frames:
      return None
    try:
      # All or nothing (checkpoints.Checkpointer): a restore that fails
      # part-way leaves the learner as its own checkpoint left it.
      self._learner.restore(path)
    except checkpoints.CheckpointError as e:
      logging.warning('pbt member %d: %s Resuming from the learner checkpoint.', self.member, e)
      self._log('resume_failed', None, {}, {}, checkpoint=path, reason=str(e)[:300])
      return None
    self._next_check = self._learner.frames + self._config.pbt.interval_frames
    self._next_heartbeat = self._learner.frames
    self.window.reset(keep=False, from_version=self._learner.step)
    logging.info('pbt member %d: resumed from its published checkpoint %s (%d frames).',
                 self.member, path, self._learner.frames)
    return path

  def _log(self, event, source, before, after, **extra):
    self.population.append_lineage(self.member, dict(
        time=time.time(), member=self.member, frames=self._learner.frames, event=event,
        source=source, before=before, after=after, **extra))
