"""Partial observability: hidden observation components, against the full env."""

import dataclasses
import os

import numpy as np
import tensorflow as tf

from impala_tf import config as config_lib
from impala_tf import environments

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _config(**kwargs):
  return config_lib.ImpalaConfig(env_id='CartPole-v1', torso='mlp', action_repeat=1,
                                 **kwargs).validate()


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


if __name__ == '__main__':
  tf.test.main()
