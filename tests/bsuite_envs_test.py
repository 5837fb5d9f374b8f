"""bsuite as batched environments, and bsuite's CSV log scored by bsuite's own
analysis (impala_tf/bsuite_envs.py)."""

import os

from bsuite.experiments.memory_len import analysis as memory_len_analysis
from bsuite.logging import csv_load
import numpy as np
import tensorflow as tf

from impala_tf import bsuite_envs
from impala_tf import command_line
from impala_tf import config as config_lib
from impala_tf import environments
import small_runs  # tests/small_runs.py


def _config(env_id='bsuite:memory_len/4'):
  return config_lib.replace(small_runs.cartpole(), env_id=env_id)


class BsuiteEnvTest(tf.test.TestCase):

  def test_memory_len_episodes_step_reward_and_reset(self):
    # memory_len/4 is a memory of 5 steps: an episode is 6 actions, the
    # last rewarded +1 if it repeats the first observation's cue, else −1.
    env = environments.make_env(_config(), 4, seed=7)
    self.assertEqual(env.spec.observation_shape, (3,))
    self.assertEqual(env.spec.action_space.n, 2)
    obs = env.reset().copy()
    cue = obs[:, 2].copy()
    self.assertTrue(np.all(np.abs(cue) == 1.0), obs)
    # The right answer: action 1 for a cue of +1, 0 for −1.
    answer = (cue > 0).astype(np.int64)
    for t in range(6):
      obs, reward, terminated, truncated = env.step(answer)
      if t < 5:
        self.assertAllEqual(reward, np.zeros(4))
        self.assertFalse(terminated.any())
    self.assertAllEqual(reward, np.ones(4))
    self.assertTrue(terminated.all())
    self.assertFalse(truncated.any())
    # The next step resets (its action ignored): a new cue, no reward.
    obs, reward, terminated, _ = env.step(np.zeros(4, np.int64))
    self.assertAllEqual(reward, np.zeros(4))
    self.assertFalse(terminated.any())
    self.assertTrue(np.all(np.abs(obs[:, 2]) == 1.0))
    env.close()

  def test_copies_have_their_own_seeds(self):
    env = environments.make_env(_config(), 16, seed=0)
    cues = env.reset()[:, 2]
    self.assertLen(set(cues.tolist()), 2)   # 16 copies of one seed would agree
    env.close()

  def test_an_unknown_id_is_named(self):
    with self.assertRaisesRegex(config_lib.ConfigError, 'memory_len/99.*bsuite:<experiment>'):
      command_line.check_env_ids(('bsuite:memory_len/99',))
    command_line.check_env_ids(('bsuite:memory_size/3',))


class EpisodeLogTest(tf.test.TestCase):

  def _score(self, directory):
    frame, _ = csv_load.load_bsuite(directory)
    return memory_len_analysis.score(frame), frame

  def test_bsuite_scores_the_log(self):
    # 70 % right from the first episode: above bsuite's 62.5 % line, score 1.
    good = os.path.join(self.get_temp_dir(), 'good')
    log = bsuite_envs.EpisodeLog('bsuite:memory_len/4', good)
    rng = np.random.default_rng(0)
    returns = np.where(rng.random(12_000) < 0.7, 1.0, -1.0)
    for start in range(0, len(returns), 64):      # batches, as the learner gets them
      log.add_episodes(returns[start:start + 64].tolist(), [6] * 64)
    self.assertTrue(log.done)
    self.assertEqual(log.episodes, 10_000)       # the rest is past bsuite's budget
    score, frame = self._score(good)
    self.assertEqual(score, 1.0)
    last = frame[frame.episode == 10_000].iloc[0]
    self.assertEqual(last.total_perfect, int((returns[:10_000] > 0).sum()))
    self.assertEqual(last.steps, 60_000)
    # bsuite's schedule: every episode to 10, then 12, 14, 17, 20, 25, ...
    self.assertEqual(frame.episode.tolist()[:14], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 14,
                                                   17, 20])

  def test_an_agent_that_learns_late_scores_zero(self):
    # Guessing for 8,000 episodes, then always right: 0.8·0.5 + 0.2 = 60 %
    # right over bsuite's 10,000, under its 62.5 % line, although the agent
    # ends perfect.
    late = os.path.join(self.get_temp_dir(), 'late')
    log = bsuite_envs.EpisodeLog('bsuite:memory_len/4', late)
    rng = np.random.default_rng(1)
    chance = np.where(rng.random(8_000) < 0.5, 1.0, -1.0)
    log.add_episodes(np.concatenate([chance, np.ones(2_000)]).tolist(), [6] * 10_000)
    self.assertEqual(self._score(late)[0], 0.0)

  def test_only_memory_experiments_are_logged(self):
    self.assertTrue(bsuite_envs.is_logged('bsuite:memory_size/2'))
    self.assertFalse(bsuite_envs.is_logged('bsuite:catch/0'))
    with self.assertRaisesRegex(ValueError, 'catch'):
      bsuite_envs.EpisodeLog('bsuite:catch/0', self.get_temp_dir())


if __name__ == '__main__':
  tf.test.main()
