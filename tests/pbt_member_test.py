"""Population members through a real population directory and real learners."""

import glob
import os
import time
import types
from unittest import mock

import numpy as np
import tensorflow as tf

from impala_tf import config as config_lib
from impala_tf import environments
from impala_tf import learner as learner_lib
from impala_tf import trajectories
from impala_tf.agents import registry
from impala_tf.pbt import member as member_lib
from impala_tf.pbt import population as population_lib
from impala_tf.pbt import validation
import small_runs  # tests/small_runs.py


def _config(**kwargs):
  pbt = dict(burn_in_frames=0, ready_episodes=10, min_episodes=5, exploit_margin=25.0,
             interval_frames=1, sample_initial=False,
             hyperparameters=('learning_rate', 'entropy_cost'))
  # A section given in kwargs changes only the fields it names.
  pbt.update(kwargs.pop('pbt', {}))
  return small_runs.cartpole(**dict(
      dict(optimizer='adam', observation_normalization=True, popart=True,
           popart_step_size=0.01, pbt=pbt),
      **kwargs))


def _batch(config, seed):
  spec = environments.env_spec(config)
  signature = trajectories.item_signature(
      trajectories.step_spec(spec, spec.distribution, config.envs_per_actor),
      config.unroll_length)
  rng = np.random.default_rng(seed)

  def sample(s):
    shape = (config.items_per_batch, *s.shape)
    if s.dtype == tf.bool:
      return np.zeros(shape, bool)
    if s.dtype.is_integer:
      return np.zeros(shape, s.dtype.as_numpy_dtype)
    return (rng.normal(size=shape) * 3 + seed).astype(s.dtype.as_numpy_dtype)

  return trajectories.to_time_major(tf.nest.map_structure(sample, signature))


def _learner(config, logdir, seed):
  batch = _batch(config, seed)
  return learner_lib.Learner(config, logdir,
                             dataset_fn=lambda _: tf.data.Dataset.from_tensors(batch).repeat())


def _state(learner):
  """Everything a copy or a resume must carry, as numpy arrays."""
  step = learner.train_step_fn
  out = {f'network/{i}': v.numpy() for i, v in enumerate(step.network.variables)}
  out.update({f'optimizer/{i}': v.numpy() for i, v in enumerate(step.optimizer.variables)})
  out.update({f'hp/{i}': v.numpy() for i, v in enumerate(step.hyperparameters.variables)})
  out['popart/mu'] = step.popart.mu.numpy()
  out['popart/variance'] = step.popart.variance.numpy()
  return out


class MemberTest(tf.test.TestCase):

  def assertStatesEqual(self, a, b, skip=()):
    self.assertEqual(sorted(a), sorted(b))
    for name in a:
      if not any(name.startswith(s) for s in skip):
        self.assertAllEqual(a[name], b[name], msg=name)

  def test_exploit_explore_and_resume(self):
    root = self.get_temp_dir()
    pop_dir = os.path.join(root, 'population')
    population_lib.Population(pop_dir).write_size(2)
    learners = [_learner(_config(learning_rate=lr, seed=i), f'{root}/member_{i}', seed=i)
                for i, lr in enumerate((1e-7, 3e-3))]
    try:
      members = []
      for i, learner in enumerate(learners):
        for _ in range(2 + i):
          learner.train_step()
        members.append(member_lib.Member(_config(seed=i), pop_dir, i, learner))
      # Member 1 is much better. Ready, it finds nobody to copy, and still
      # explores; it publishes its fitness.
      members[1].add_episodes([400.0] * 10, [0] * 10, [0] * 10)
      learners[1].train_step()
      self.assertFalse(members[1].after_step())
      self.assertEqual((0, 1), (members[1].exploits, members[1].explores))
      self.assertAllClose(400.0, population_lib.Population(pop_dir).read_state(1)['fitness'])
      # Member 0 copies it: network (and observation normaliser), optimiser
      # slots and step, hyperparameters, PopArt statistics; not its counters.
      members[0].add_episodes([20.0] * 10, [0] * 10, [0] * 10)
      learners[0].train_step()
      source = _state(learners[1])
      # Member 1's own explore may have moved its rate from 3e-3 already.
      source_lr = float(learners[1].hyperparameters.learning_rate.numpy())
      frames0 = int(learners[0].env_frames.numpy())
      lr_before = float(learners[0].hyperparameters.learning_rate.numpy())
      self.assertTrue(members[0].after_step())
      copied = _state(learners[0])
      self.assertStatesEqual(source, copied, skip=('hp/',))
      self.assertEqual(frames0, int(learners[0].env_frames.numpy()))
      self.assertEqual(frames0, learners[0].frames)
      lr = float(learners[0].hyperparameters.learning_rate.numpy())
      self.assertNotAllClose(lr_before, lr)
      self.assertTrue(any(np.isclose(lr, source_lr * f) for f in (1.0, 1.2, 1 / 1.2)),
                      (lr, source_lr))
      # The copied weights are not published with the pre-copy fitness.
      self.assertIsNone(population_lib.Population(pop_dir).read_state(0)['fitness'])
      # Episodes in flight at the copy, started by the replaced weights, do
      # not count towards the copied weights' fitness; those started by the
      # learner's next publication (version: its step at the copy) do.
      at_copy = learners[0].step
      members[0].add_episodes([20.0] * 3 + [400.0] * 2, [0] * 5,
                              [at_copy - 1] * 3 + [at_copy, at_copy + 1])
      self.assertEqual(2, members[0].window.episodes)
      events = population_lib.Population(pop_dir).lineage()
      kinds = [(e['member'], e['event'], e['source']) for e in events]
      self.assertIn((0, 'exploit', 1), kinds)
      self.assertIn((0, 'explore', None), kinds)
      self.assertIn((1, 'explore', None), kinds)
      self.assertNotIn((1, 'exploit', 0), kinds)
      # Every member's events in order of its frames.
      for m in (0, 1):
        frames = [e['frames'] for e in events if e['member'] == m]
        self.assertEqual(sorted(frames), frames)

      # Member 0 trains on and publishes, then its process dies before its
      # learner wrote any checkpoint of its own.
      learners[0].train_step()
      members[0].after_step()
      published = _state(learners[0])
      frames, steps = learners[0].frames, learners[0].step
      numbers = {p for p in glob.glob(f'{pop_dir}/member_0/checkpoints/ckpt-*.index')}
      learners[0].close()
      learners[0] = _learner(_config(learning_rate=1e-7, seed=0), f'{root}/member_0', seed=0)
      self.assertEqual(0, learners[0].frames)          # nothing of its own to restore
      again = member_lib.Member(_config(seed=0), pop_dir, 0, learners[0])
      # It resumed from its published checkpoint: counters read back from
      # the variables, and every piece of state.
      self.assertEqual(frames, int(learners[0].env_frames.numpy()))
      self.assertEqual(steps, int(learners[0].train_step_fn.learner_steps.numpy()))
      self.assertEqual((frames, steps), (learners[0].frames, learners[0].step))
      self.assertStatesEqual(published, _state(learners[0]))
      self.assertEqual(1, again.exploits)
      restart = population_lib.Population(pop_dir).lineage()
      restart = [e for e in restart if e['member'] == 0][-1]
      self.assertEqual('restart', restart['event'])
      self.assertIsNotNone(restart['resumed_from'])
      # Its next publication takes a new checkpoint name.
      learners[0].train_step()
      again.after_step()
      new = {p for p in glob.glob(f'{pop_dir}/member_0/checkpoints/ckpt-*.index')} - numbers
      number = lambda p: int(p.rsplit('-', 1)[1].split('.')[0])
      self.assertLen(new, 1)
      self.assertGreater(number(new.pop()), max(number(p) for p in numbers))

      # When the learner's own checkpoint is the newer one, it stays.
      for _ in range(3):
        learners[0].train_step()
      learners[0]._checkpoints.save(learners[0].step)   # pylint: disable=protected-access
      own = _state(learners[0])
      frames = learners[0].frames
      learners[0].close()
      learners[0] = _learner(_config(learning_rate=1e-7, seed=0), f'{root}/member_0', seed=0)
      member_lib.Member(_config(seed=0), pop_dir, 0, learners[0])
      self.assertEqual(frames, learners[0].frames)
      self.assertStatesEqual(own, _state(learners[0]))
    finally:
      for learner in learners:
        learner.close()

  def _decisions(self, root, seed, clock, count=4):
    """The hyperparameters after each of `count` decisions of a lone member
    whose clock reads `clock` (plus the seconds since)."""
    pop_dir = os.path.join(root, 'population')
    population_lib.Population(pop_dir).write_size(1)
    learner = _learner(_config(seed=seed), os.path.join(root, 'member_0'), seed=0)
    offset = clock - time.time()
    shifted = types.SimpleNamespace(time=lambda: time.time() + offset)
    after = []
    try:
      with mock.patch.object(member_lib, 'time', shifted):
        member = member_lib.Member(_config(seed=seed), pop_dir, 0, learner)
        for _ in range(count):
          member.add_episodes([100.0] * 10, [0] * 10, [0] * 10)
          learner.train_step()
          member.after_step()
          after.append(member.hyperparameters())
    finally:
      learner.close()
    self.assertEqual(count, member.explores)
    return after

  def test_decisions_follow_the_seed_not_the_clock(self):
    root = self.get_temp_dir()
    first = self._decisions(f'{root}/a', seed=5, clock=1e9)
    again = self._decisions(f'{root}/b', seed=5, clock=2e9 + 12345.678)
    self.assertEqual(first, again)
    # Something was explored, and another seed explores otherwise.
    self.assertNotEqual(first[0], first[-1])
    self.assertNotEqual(first, self._decisions(f'{root}/c', seed=6, clock=1e9))

  def test_a_failed_copy_leaves_the_member_as_it_was(self):
    root = self.get_temp_dir()
    pop_dir = os.path.join(root, 'population')
    # Member 1 publishes a checkpoint of another network shape (a broken
    # population: the restore fails part-way, after some variables).
    other = _learner(_config(mlp_hidden_sizes=(16,), seed=1), f'{root}/other', seed=1)
    mine = _learner(_config(seed=0), f'{root}/mine', seed=0)
    try:
      other.train_step()
      member1 = member_lib.Member(_config(mlp_hidden_sizes=(16,), seed=1), pop_dir, 1, other)
      member1.add_episodes([400.0] * 10, [0] * 10, [0] * 10)
      other.train_step()
      member1.after_step()
      mine.train_step()
      member0 = member_lib.Member(_config(seed=0), pop_dir, 0, mine)
      member0.add_episodes([20.0] * 10, [0] * 10, [0] * 10)
      mine.train_step()
      before = _state(mine)
      self.assertFalse(member0.after_step())
      self.assertStatesEqual(before, _state(mine), skip=('hp/',))   # explore still ran
      self.assertEqual(0, member0.exploits)
      events = population_lib.Population(pop_dir).lineage()
      self.assertIn((0, 'exploit_failed', 1), [(e['member'], e['event'], e['source'])
                                               for e in events])
      # Its fitness was kept: nothing was copied.
      self.assertAllClose(20.0, population_lib.Population(pop_dir).read_state(0)['fitness'])
    finally:
      other.close()
      mine.close()

  def test_new_member_samples_its_hyperparameters_in_range(self):
    config = _config(pbt=dict(sample_initial=True,
                              hyperparameters=('learning_rate', 'entropy_cost',
                                               'optimizer_epsilon', 'grad_clip_norm')))
    learner = _learner(config, self.get_temp_dir() + '/m', seed=0)
    try:
      member = member_lib.Member(config, self.get_temp_dir() + '/pop', 3, learner)
      hp = member.hyperparameters()
      ranges = {h.name: (h.low, h.high) for h in member.search_space}
      self.assertEqual(set(hp), set(ranges))
      for name, value in hp.items():
        self.assertBetween(value, *ranges[name])
      self.assertAllClose(hp['optimizer_epsilon'], float(learner.optimizer.epsilon.numpy()))
    finally:
      learner.close()

  def test_a3c_cannot_search_the_entropy_cost(self):
    config = _config(architecture='a3c', popart=False, observation_normalization=False)
    with self.assertRaisesRegex(ValueError, 'entropy_cost'):
      member_lib.Member(config, self.get_temp_dir() + '/pop', 0, learner=None)

  def test_a_hyperparameter_the_agent_lacks_is_refused_by_name(self):
    config = _config(pbt=dict(hyperparameters=('learning_rate', 'momentum')))
    with self.assertRaisesRegex(ValueError, "pbt.hyperparameters.*'momentum'"):
      member_lib.Member(config, self.get_temp_dir() + '/pop', 0, learner=None)
    config = _config(pbt=dict(ranges=(('batch_size', 16, 64),)))
    with self.assertRaisesRegex(ValueError, "pbt.ranges.*'batch_size'"):
      member_lib.Member(config, self.get_temp_dir() + '/pop', 0, learner=None)

  def test_every_searchable_hyperparameter_by_default(self):
    config = _config(architecture='r2d2', popart=False, observation_normalization=False,
                     use_lstm=True, r2d2=dict(replay_min_size=8, replay_capacity=100),
                     pbt=dict(hyperparameters=()))
    space = member_lib.search_space(config, registry.info('r2d2').searchable)
    self.assertEqual([h.name for h in space],
                     ['learning_rate', 'optimizer_epsilon', 'grad_clip_norm'])
    config = _config(pbt=dict(hyperparameters=(), ranges=(('learning_rate', 1e-4, 2e-4),)))
    space = {h.name: h for h in member_lib.search_space(config,
                                                        registry.info('impala').searchable)}
    self.assertLen(space, 4)
    self.assertEqual((space['learning_rate'].low, space['learning_rate'].high), (1e-4, 2e-4))
    self.assertEqual(space['entropy_cost'].high, 1e-2)   # the agent's default range

  def test_r2d2_cannot_search_the_entropy_cost(self):
    config = _config(architecture='r2d2', popart=False, observation_normalization=False,
                     use_lstm=True, r2d2=dict(replay_min_size=8, replay_capacity=100))
    with self.assertRaisesRegex(ValueError, "entropy_cost with architecture='r2d2'"):
      member_lib.Member(config, self.get_temp_dir() + '/pop', 0, learner=None)


class MemberRecordsTest(tf.test.TestCase):
  """What a member publishes and reads, and how it survives failures."""

  def assertStatesEqual(self, a, b):
    self.assertEqual(sorted(a), sorted(b))
    for name in a:
      self.assertAllEqual(a[name], b[name], msg=name)

  def _two(self, root, sizes=((32, 32), (32, 32))):
    """Members 0 and 1, trained a step each; member 1 published a fitness of
    400 and member 0 has 20 in its window."""
    pop_dir = os.path.join(root, 'population')
    population_lib.Population(pop_dir).write_size(2)
    learners = [_learner(_config(seed=i, mlp_hidden_sizes=size), f'{root}/member_{i}', seed=i)
                for i, size in enumerate(sizes)]
    members = []
    for i, learner in enumerate(learners):
      learner.train_step()
      members.append(member_lib.Member(_config(seed=i, mlp_hidden_sizes=sizes[i]), pop_dir, i,
                                       learner))
    members[1].add_episodes([400.0] * 10, [0] * 10, [0] * 10)
    learners[1].train_step()
    members[1].after_step()
    members[0].add_episodes([20.0] * 10, [0] * 10, [0] * 10)
    learners[0].train_step()
    return pop_dir, learners, members

  def test_exploit_copies_the_weights_its_fitness_was_measured_on(self):
    # Member 1 has published 400 with its checkpoint. It trains on and is
    # half-way through its next publication (the checkpoint written, the
    # state file not yet) when member 0 decides: member 0 copies the
    # weights that scored 400, not the newer ones.
    root = self.get_temp_dir()
    pop_dir, learners, members = self._two(root)
    try:
      measured = _state(learners[1])
      for _ in range(3):
        learners[1].train_step()
      members[1]._manager.save(checkpoint_number=100)   # pylint: disable=protected-access
      newer = _state(learners[1])
      self.assertNotAllClose(measured['network/0'], newer['network/0'])
      self.assertTrue(members[0].after_step())
      copied = _state(learners[0])
      for name in measured:
        if not name.startswith('hp/'):
          self.assertAllEqual(measured[name], copied[name], msg=name)
      exploit = [e for e in population_lib.Population(pop_dir).lineage()
                 if e['event'] == 'exploit'][0]
      self.assertEqual(
          population_lib.Population(pop_dir).read_state(1)['checkpoint'], exploit['checkpoint'])
    finally:
      for learner in learners:
        learner.close()

  def test_a_source_without_a_checkpoint_is_logged_and_skipped(self):
    root = self.get_temp_dir()
    pop_dir, learners, members = self._two(root)
    try:
      population = population_lib.Population(pop_dir)
      state = population.read_state(1)
      del state['checkpoint']      # as a member that never saved one would publish
      population.write_state(1, state)
      before = _state(learners[0])
      self.assertFalse(members[0].after_step())
      self.assertEqual(0, members[0].exploits)
      self.assertAllEqual(before['network/0'], _state(learners[0])['network/0'])
      skipped = [e for e in population.lineage() if e['event'] == 'exploit_skipped']
      self.assertLen(skipped, 1)
      self.assertEqual((0, 1, 'no checkpoint published'),
                       (skipped[0]['member'], skipped[0]['source'], skipped[0]['reason']))
    finally:
      for learner in learners:
        learner.close()

  def test_liveness_is_judged_by_the_shared_directory_clock(self):
    # Member 0's own clock runs a day ahead of member 1's. Member 1 published
    # once, long before (its state file is an hour old), but its heartbeat is
    # fresh: it is live, and member 0 copies it.
    root = self.get_temp_dir()
    pop_dir, learners, members = self._two(root)
    try:
      member_dir = population_lib.Population(pop_dir).member_dir(1)
      hour_ago = time.time() - 3600
      os.utime(os.path.join(member_dir, population_lib.STATE_FILE), (hour_ago, hour_ago))
      ahead = types.SimpleNamespace(time=lambda: time.time() + 86_400)
      with mock.patch.object(member_lib, 'time', ahead):
        self.assertTrue(members[0].after_step())
      # Its heartbeat then stops (older than stale_seconds, 900): from now on
      # it is not a candidate, whatever member 0's clock says.
      members[0].add_episodes([20.0] * 10, [0] * 10, [0] * 10)
      learners[0].train_step()
      long_ago = time.time() - 2000
      os.utime(os.path.join(member_dir, population_lib.HEARTBEAT_FILE), (long_ago, long_ago))
      behind = types.SimpleNamespace(time=lambda: time.time() - 86_400)
      with mock.patch.object(member_lib, 'time', behind):
        self.assertFalse(members[0].after_step())
      self.assertEqual(1, members[0].exploits)
    finally:
      for learner in learners:
        learner.close()

  def test_a_failed_resume_leaves_the_learner_as_its_own_checkpoint_left_it(self):
    # Member 0 published a checkpoint of another network shape with more
    # frames (a broken directory); its restarted learner fails to resume
    # from it part-way and must be left whole, not half-restored.
    root = self.get_temp_dir()
    pop_dir = os.path.join(root, 'population')
    other = _learner(_config(mlp_hidden_sizes=(16,), seed=0), f'{root}/other', seed=0)
    try:
      member = member_lib.Member(_config(mlp_hidden_sizes=(16,), seed=0), pop_dir, 0, other)
      for _ in range(3):
        other.train_step()
      member.after_step()
    finally:
      other.close()
    learner = _learner(_config(seed=0), f'{root}/mine', seed=0)
    try:
      learner.train_step()
      before = _state(learner)
      member_lib.Member(_config(seed=0), pop_dir, 0, learner)
      self.assertStatesEqual(before, _state(learner))
      self.assertEqual(1, learner.step)
      events = [e['event'] for e in population_lib.Population(pop_dir).lineage()]
      self.assertEqual(['start', 'resume_failed', 'restart'], events)
    finally:
      learner.close()

  def test_keeps_at_least_three_published_checkpoints(self):
    # Another member may still be reading the previous two while a third is
    # written, whatever the learner's own checkpoints_to_keep.
    root = self.get_temp_dir()
    config = _config(seed=0, checkpoints_to_keep=1)
    learner = _learner(config, f'{root}/m', seed=0)
    try:
      member = member_lib.Member(config, f'{root}/population', 0, learner)
      for _ in range(6):
        learner.train_step()
        member.after_step()
      kept = sorted(int(p.rsplit('-', 1)[1].split('.')[0]) for p in
                    glob.glob(f'{root}/population/member_0/checkpoints/ckpt-*.index'))
      self.assertEqual([4, 5, 6], kept)
    finally:
      learner.close()


class PopulationRecordsTest(tf.test.TestCase):

  def test_lineages_merge_by_each_members_frames_not_wall_clocks(self):
    # Member 1's machine clock is an hour behind member 0's, and member 1
    # restarted from an older checkpoint (its frames went back). The merged
    # lineage is member by member, each in order of its own frames; events
    # at one frame count stay in the order they were logged.
    population = population_lib.Population(self.get_temp_dir())
    log = lambda member, frames, event, clock: population.append_lineage(
        member, dict(member=member, frames=frames, event=event, time=clock))
    log(1, 300, 'explore', 1_000.0)
    log(0, 200, 'explore', 4_600.0)
    log(1, 100, 'restart', 1_100.0)     # resumed from 100 frames
    log(0, 100, 'start', 4_700.0)       # written late, with a later clock
    log(1, 100, 'explore', 1_050.0)     # same frames, logged after the restart
    for m in (0, 1):
      population.write_state(m, {'member': m})
    got = [(e['member'], e['frames'], e['event']) for e in population.lineage()]
    self.assertEqual([(0, 100, 'start'), (0, 200, 'explore'), (1, 100, 'restart'),
                      (1, 100, 'explore'), (1, 300, 'explore')], got)


class FitnessWiringTest(tf.test.TestCase):
  """member.fitness_window: which scale a run's fitness is on."""

  def _fitness(self, config, returns, tasks):
    window = member_lib.fitness_window(config)
    window.add(returns, tasks, [0] * len(returns))
    return window.value()

  def test_one_atari_game_is_human_normalised_uncapped(self):
    config = config_lib.ImpalaConfig(env_id='ALE/Pong-v5', pbt=dict(min_episodes=1))
    # Pong: random −20.7, human 14.6; a return of 21 is above human, not capped.
    self.assertAllClose((21.0 + 20.7) / 35.3, self._fitness(config, [21.0], [0]))

  def test_several_games_are_capped_at_one(self):
    config = config_lib.ImpalaConfig(
        tasks=('ALE/Pong-v5', 'ALE/Breakout-v5'), full_action_space=True,
        pbt=dict(min_episodes=2))
    # Pong above human counts 1; Breakout (random 1.7, human 30.5) at 16.1: 0.5.
    self.assertAllClose((1.0 + 0.5) / 2,
                        self._fitness(config, [21.0, 16.1], [0, 1]), rtol=1e-6)

  def test_a_game_without_reference_scores_counts_its_own_return(self):
    config = config_lib.ImpalaConfig(env_id='ALE/Carnival-v5', pbt=dict(min_episodes=1))
    self.assertAllClose(1234.0, self._fitness(config, [1234.0], [0]))

  def test_references_replace_human_scores(self):
    config = config_lib.ImpalaConfig(
        env_id='ALE/Pong-v5', pbt=dict(min_episodes=1, task_references=((-21.0, 21.0),)))
    self.assertAllClose(0.5, self._fitness(config, [0.0], [0]))

  def test_several_non_atari_tasks_need_references(self):
    config = small_runs.cartpole(tasks=('CartPole-v1', 'CartPole-v1'),
                                 task_reward_scales=(1.0, 1000.0))
    with self.assertRaisesRegex(ValueError, 'needs pbt.task_references'):
      validation.check_member(config)
    with self.assertRaisesRegex(ValueError, 'gives 1 .* for 2 task'):
      validation.check_member(config_lib.replace(config, pbt=dict(
          task_references=((0.0, 500.0),))))
    validation.check_member(config_lib.replace(config, pbt=dict(
        task_references=((0.0, 500.0), (0.0, 500.0)))))


if __name__ == '__main__':
  tf.test.main()
