"""A member exploits a better one through a real population directory."""

import numpy as np
import tensorflow as tf

from impala_tf import config as config_lib
from impala_tf import environments
from impala_tf import learner as learner_lib
from impala_tf import trajectories
from impala_tf.pbt import member as member_lib
from impala_tf.pbt import population as population_lib


def _config(**kwargs):
  base = dict(env_id='CartPole-v1', torso='mlp', action_repeat=1, unroll_length=5,
              envs_per_actor=4, batch_size=8, num_actors=1, reward_clipping='none',
              pbt_burn_in_frames=0, pbt_ready_episodes=0, pbt_interval_seconds=1e-6,
              pbt_hyperparameters=('learning_rate', 'entropy_cost'))
  base.update(kwargs)
  return config_lib.ImpalaConfig(**base)


def _batch(config):
  spec = environments.env_spec(config)
  signature = trajectories.item_signature(
      trajectories.step_spec(spec, spec.distribution, config.envs_per_actor),
      config.unroll_length)
  rng = np.random.default_rng(0)

  def sample(s):
    shape = (config.items_per_batch, *s.shape)
    if s.dtype == tf.bool:
      return np.zeros(shape, bool)
    if s.dtype.is_integer:
      return np.zeros(shape, s.dtype.as_numpy_dtype)
    return rng.normal(size=shape).astype(s.dtype.as_numpy_dtype)

  return trajectories.to_time_major(tf.nest.map_structure(sample, signature))


class MemberTest(tf.test.TestCase):

  def test_worse_member_copies_the_better_one_and_perturbs(self):
    pop_dir = self.get_temp_dir() + '/population'
    batch = _batch(_config())
    learners, members = [], []
    try:
      for i, lr in enumerate((1e-7, 3e-3)):
        config = _config(learning_rate=lr, pbt_sample_initial=False, seed=i)
        learner = learner_lib.Learner(
            config, self.get_temp_dir() + f'/member_{i}',
            dataset_fn=lambda _: tf.data.Dataset.from_tensors(batch).repeat())
        learner.train_step()
        learners.append(learner)
        members.append(member_lib.Member(config, pop_dir, i, learner))
      # Member 1 is much better; it publishes (checkpoint + state) first.
      learners[0]._episode_returns.extend([20.0] * 10)   # pylint: disable=protected-access
      learners[1]._episode_returns.extend([400.0] * 10)  # pylint: disable=protected-access
      learners[0]._episodes = learners[1]._episodes = 10  # pylint: disable=protected-access
      self.assertFalse(members[1].after_step())        # the best: nothing better to copy
      self.assertTrue(members[0].after_step())         # exploits member 1
      for a, b in zip(learners[0].network.variables, learners[1].network.variables):
        self.assertAllEqual(a.numpy(), b.numpy())
      # Copied, then perturbed by ×1.2, ÷1.2 or not at all.
      lr = float(learners[0].hyperparameters.learning_rate.numpy())
      self.assertTrue(any(np.isclose(lr, 3e-3 * f) for f in (1.0, 1.2, 1 / 1.2)), lr)
      events = population_lib.Population(pop_dir).lineage()
      kinds = [(e['member'], e['event'], e['source']) for e in events]
      self.assertIn((0, 'exploit', 1), kinds)
      self.assertIn((0, 'explore', None), kinds)
      exploit = next(e for e in events if e['event'] == 'exploit')
      self.assertAllClose(1e-7, exploit['before']['learning_rate'])
      self.assertAllClose(3e-3, exploit['after']['learning_rate'])
      self.assertEqual(members[0].exploits, 1)
      # Its frame counter stays its own.
      self.assertEqual(learners[0].frames, config.frames_per_learner_step)
      # The new hyperparameters are read by the compiled step: no retrace.
      step_fn = learners[0].train_step_fn.__call__
      traces = step_fn.experimental_get_tracing_count()
      learners[0].train_step()
      self.assertEqual(traces, step_fn.experimental_get_tracing_count())
      # A restarted member finds its state and lineage.
      again = member_lib.Member(_config(learning_rate=1e-7, pbt_sample_initial=False), pop_dir,
                                0, learners[0])
      self.assertEqual(again.exploits, 1)
      self.assertEqual('restart', population_lib.Population(pop_dir).lineage()[-1]['event'])
    finally:
      for learner in learners:
        learner.close()

  def test_new_member_samples_its_hyperparameters_in_range(self):
    config = _config(pbt_hyperparameters=('learning_rate', 'entropy_cost',
                                          'optimizer_epsilon', 'grad_clip_norm'))
    learner = learner_lib.Learner(config, self.get_temp_dir() + '/m',
                                  dataset_fn=lambda _: tf.data.Dataset.from_tensors(
                                      _batch(config)).repeat())
    try:
      member = member_lib.Member(config, self.get_temp_dir() + '/pop', 3, learner)
      hp = member.hyperparameters()
      ranges = member_lib.hyperparameter_ranges(config)
      for name, value in hp.items():
        self.assertBetween(value, *ranges[name])
      self.assertAllClose(hp['optimizer_epsilon'], float(learner.optimizer.epsilon.numpy()))
    finally:
      learner.close()


if __name__ == '__main__':
  tf.test.main()
