"""The staleness analysis (impala_tf/agents/r2d2/staleness.py) on a real network and
real CartPole episodes: what each strategy must give where the answer is known."""

import numpy as np
import tensorflow as tf

from impala_tf import config as config_lib
from impala_tf import environments
from impala_tf.agents.r2d2 import networks as r2d2_networks
from impala_tf.agents.r2d2 import staleness


def _setup():
  config = config_lib.ImpalaConfig(
      env_id='CartPole-v1', architecture='r2d2', torso='mlp', action_repeat=1,
      mlp_hidden_sizes=(16,), use_lstm=True, lstm_units=16,
      hidden_observation_components=(1, 3), reward_clipping='none',
      r2d2=dict(head_hidden=16)).validate()
  env = environments.make_env(config, 1, seed=3)
  make = lambda: r2d2_networks.make_network(config, env.spec.observation_shape,
                                            env.spec.action_space.n)
  return env, make


class StalenessTest(tf.test.TestCase):

  def test_discrepancy_against_numpy(self):
    q_true = np.array([[1.0, -2.0, 0.5], [-2.0, -4.0, -1.0]])
    q_hat = np.array([[1.0, -1.0, 0.5], [1.0, 0.0, -1.0]])
    # ‖(0, 1, 0)‖ / |1|, ‖(3, 4, 0)‖ / |−1|.
    self.assertAllClose(staleness.discrepancy(q_hat, q_true), [1.0, 5.0])

  def test_stored_states_of_the_same_network_are_the_true_ones(self):
    tf.random.set_seed(0)
    env, make = _setup()
    network = make()
    try:
      episodes = staleness.record_episodes(network, env, count=4, epsilon=1.0, seed=0)
    finally:
      env.close()
    self.assertLen(episodes, 4)
    self.assertTrue(all(e.first[0] and not e.first[1:].any() for e in episodes))
    # Random actions: CartPole episodes of 8-60 steps; windows of 2 + 5.
    delta = staleness.measure(network, episodes, length=5, burn_in=2, period=1)
    # The acting network is the current one: its stored states are exactly
    # the true states, with or without burn-in.
    self.assertAllClose(delta['stored_state'], np.zeros(5), atol=1e-5)
    self.assertAllClose(delta['stored_state_burn_in'], np.zeros(5), atol=1e-5)
    # The zero state is wrong at the window's start, and burn-in reduces it.
    self.assertGreater(delta['zero_state'][0], 1e-3)
    self.assertLess(delta['zero_state_burn_in'][0], delta['zero_state'][0])

  def test_a_stale_acting_network_leaves_a_discrepancy(self):
    tf.random.set_seed(1)
    env, make = _setup()
    current, stale = make(), make()   # two initialisations: very stale
    try:
      episodes = staleness.record_episodes(stale, env, count=4, epsilon=1.0, seed=1)
    finally:
      env.close()
    delta = staleness.measure(current, episodes, length=5, burn_in=2, period=1)
    self.assertGreater(delta['stored_state'][0], 1e-3)
    for name in staleness.STRATEGIES:
      self.assertEqual(delta[name].shape, (5,))
      self.assertTrue(np.all(np.isfinite(delta[name])))


if __name__ == '__main__':
  tf.test.main()
