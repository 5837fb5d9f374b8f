"""Observation options against the environments themselves: hidden
components (partial observability) and a Dict observation's entry fed as
numbers (MiniGrid), and per-task action masks from the games' minimal
action sets."""

import dataclasses
import os

import numpy as np
import tensorflow as tf

from impala_tf import config as config_lib
from impala_tf import environments

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _config(**kwargs):
  return config_lib.ImpalaConfig(**{'env_id': 'CartPole-v1', 'torso': 'mlp',
                                    'action_repeat': 1, **kwargs}).validate()


class HiddenComponentsTest(tf.test.TestCase):

  def test_hidden_components_are_removed_and_the_rest_is_the_full_observation(self):
    full = environments.make_env(_config(), 3, seed=7)
    partial = environments.make_env(_config(hidden_observation_components=(1, 3)), 3, seed=7)
    try:
      self.assertEqual(full.spec.observation_shape, (4,))
      self.assertEqual(partial.spec.observation_shape, (2,))
      self.assertAllEqual(partial.reset(), full.reset()[:, [0, 2]])
      rng = np.random.default_rng(0)
      for _ in range(30):
        actions = rng.integers(0, 2, 3)
        obs_p, reward_p, term_p, trunc_p = partial.step(actions)
        obs_f, reward_f, term_f, trunc_f = full.step(actions)
        self.assertAllEqual(obs_p, obs_f[:, [0, 2]])
        self.assertAllEqual((reward_p, term_p, trunc_p), (reward_f, term_f, trunc_f))
      self.assertEqual(environments.env_spec(
          _config(hidden_observation_components=(1, 3))).observation_shape, (2,))
    finally:
      full.close()
      partial.close()

  def test_bad_components_are_refused(self):
    with self.assertRaisesRegex(config_lib.ConfigError, 'distinct non-negative'):
      _config(hidden_observation_components=(1, 1))
    with self.assertRaisesRegex(config_lib.ConfigError, 'distinct non-negative'):
      _config(hidden_observation_components=(-1,))
    with self.assertRaisesRegex(config_lib.ConfigError, 'not Atari'):
      config_lib.ImpalaConfig(env_id='ALE/Pong-v5', hidden_observation_components=(0,)).validate()
    with self.assertRaisesRegex(ValueError, 'some, not all'):
      environments.make_env(_config(hidden_observation_components=(4,)), 1, seed=0)
    with self.assertRaisesRegex(ValueError, 'some, not all'):
      environments.make_env(_config(hidden_observation_components=(0, 1, 2, 3)), 1, seed=0)

  def test_the_pomdp_preset(self):
    config = config_lib.load_config_file(os.path.join(_REPO, 'configs', 'cartpole_pomdp.py'))
    self.assertEqual(config.hidden_observation_components, (1, 3))
    self.assertTrue(config.use_lstm)
    self.assertFalse(dataclasses.replace(config, use_lstm=False).validate().use_lstm)


MEMORY = 'minigrid:MiniGrid-MemoryS7-v0'


class DictObservationTest(tf.test.TestCase):

  def test_minigrid_image_is_the_envs_own_view_as_numbers(self):
    import gymnasium as gym  # pylint: disable=g-import-not-at-top
    config = _config(env_id=MEMORY, observation_key='image', observation_dtype='float32')
    env = environments.make_env(config, 2, seed=[3, 4])
    reference = gym.make_vec(MEMORY, num_envs=2, vectorization_mode='sync', vector_kwargs={
        'autoreset_mode': gym.vector.AutoresetMode.NEXT_STEP})
    try:
      self.assertEqual(env.spec.observation_shape, (7, 7, 3))
      self.assertEqual(env.spec.observation_dtype, np.float32)
      self.assertEqual(env.spec.action_space.n, 7)
      obs = env.reset()
      want, _ = reference.reset(seed=[3, 4])
      self.assertEqual(obs.dtype, np.float32)
      self.assertAllEqual(obs, want['image'].astype(np.float32))
      self.assertGreater(obs.max(), 1.0)   # codes, not intensities in [0, 1]
      rng = np.random.default_rng(0)
      for _ in range(50):
        actions = rng.integers(0, 3, 2)
        got, reward, term, trunc = env.step(actions)
        want, want_reward, want_term, want_trunc, _ = reference.step(actions)
        self.assertAllEqual(got, want['image'].astype(np.float32))
        self.assertAllEqual(reward, want_reward.astype(np.float32))
        self.assertAllEqual((term, trunc), (want_term, want_trunc))
      # 'auto' keeps uint8, which the network scales as pixels.
      auto = environments.make_env(_config(env_id=MEMORY, observation_key='image'), 1, seed=0)
      self.assertEqual(auto.spec.observation_dtype, np.uint8)
      auto.close()
    finally:
      env.close()
      reference.close()

  def test_dict_observations_need_a_key(self):
    with self.assertRaisesRegex(ValueError, r"observation_key to one of its Box entries \['image'\]"):
      environments.make_env(_config(env_id=MEMORY), 1, seed=0)
    with self.assertRaisesRegex(ValueError, r"observation_key='image'.*not a Dict"):
      environments.make_env(_config(observation_key='image'), 1, seed=0)
    with self.assertRaisesRegex(config_lib.ConfigError, 'observation_dtype must be one of'):
      _config(observation_dtype='float64')
    with self.assertRaisesRegex(config_lib.ConfigError, 'not Atari'):
      config_lib.ImpalaConfig(env_id='ALE/Pong-v5', observation_key='image').validate()

  def test_the_minigrid_presets(self):
    for name, architecture in (('minigrid_memory.py', 'impala'),
                               ('r2d2_minigrid_memory.py', 'r2d2')):
      config = config_lib.load_config_file(os.path.join(_REPO, 'configs', name))
      self.assertEqual((config.env_id, config.architecture, config.use_lstm),
                       (MEMORY, architecture, True))
      spec = environments.env_spec(config)
      self.assertEqual((spec.observation_shape, spec.observation_dtype), ((7, 7, 3), np.float32))


class TaskActionMaskTest(tf.test.TestCase):

  def test_masks_are_each_games_minimal_action_set(self):
    config = config_lib.ImpalaConfig(
        env_id='ALE/Pong-v5', tasks=('ALE/Pong-v5', 'ALE/Breakout-v5'), num_actors=2,
        full_action_space=True, task_action_masks=True)
    spec = environments.env_spec(config)
    self.assertEqual(18, spec.action_space.n)
    # ALE's enum: 0 NOOP, 1 FIRE, 3 RIGHT, 4 LEFT, 11 RIGHTFIRE, 12 LEFTFIRE.
    self.assertAllEqual([[0, 1, 3, 4, 11, 12], [0, 1, 3, 4]],
                        [np.flatnonzero(m).tolist() for m in spec.action_masks])
    # Index i of the full set is the minimal set's action of the same
    # meaning: stepping both with mapped actions gives the same frames.
    import ale_py  # pylint: disable=g-import-not-at-top
    import gymnasium as gym  # pylint: disable=g-import-not-at-top
    gym.register_envs(ale_py)
    full, minimal = (gym.make('ALE/Breakout-v5', full_action_space=f,
                              repeat_action_probability=0.0) for f in (True, False))
    allowed = np.flatnonzero(spec.action_masks[1])
    a, b = full.reset(seed=3)[0], minimal.reset(seed=3)[0]
    rng = np.random.default_rng(0)
    for _ in range(60):
      i = int(rng.integers(len(allowed)))
      a, b = full.step(int(allowed[i]))[0], minimal.step(i)[0]
      self.assertAllEqual(a, b)
    full.close()
    minimal.close()
    self.assertIsNone(environments.env_spec(
        dataclasses.replace(config, task_action_masks=False)).action_masks)

  def test_masks_need_atari_and_the_full_action_set(self):
    with self.assertRaisesRegex(config_lib.ConfigError, 'task_action_masks.*full_action_space'):
      config_lib.ImpalaConfig(env_id='ALE/Pong-v5', task_action_masks=True)
    with self.assertRaisesRegex(config_lib.ConfigError, 'task_action_masks.*Atari'):
      _config(task_action_masks=True)
    with self.assertRaisesRegex(config_lib.ConfigError, 'r2d2.*task_action_masks'):
      config_lib.ImpalaConfig(env_id='ALE/Pong-v5', architecture='r2d2',
                              full_action_space=True, task_action_masks=True)


if __name__ == '__main__':
  tf.test.main()
