"""FTW's learner step and agent (impala_tf/agents/ftw/): the KL terms in the
objective, the hyperparameters PBT sets, the registry entry and the
config's checks."""

import os

import numpy as np
import pytest
import tensorflow as tf

from impala_tf import config as config_lib
from impala_tf import environments
from impala_tf import export
from impala_tf import learner as learner_lib
from impala_tf import networks as core_networks
from impala_tf import trajectories
from impala_tf.agents import registry
from impala_tf.agents.ftw import agent as ftw_agent
from impala_tf.agents.ftw import config as ftw_config
from impala_tf.agents.ftw import learner_step
from impala_tf.agents.ftw import networks
from impala_tf.ctf import events
from impala_tf.pbt import member as member_lib
from impala_tf.pbt import population as population_lib
import small_runs  # tests/small_runs.py

T, B = 6, 4


def _config(**changes):
  base = config_lib.replace(
      small_runs.cartpole(architecture='ftw', use_lstm=True, envs_per_actor=B, batch_size=B,
                          unroll_length=T),
      ftw=dict(fast_units=16, slow_units=16, latent_size=8, hidden_size=16, slow_period=3))
  return config_lib.replace(base, **changes)


def _spec(config):
  env = environments.make_env(config, 1, seed=0)
  try:
    return env.spec
  finally:
    env.close()


def _fake_batch(signature, seed=0):
  rng = np.random.default_rng(seed)

  def fake(s):
    if s.dtype == tf.bool:
      return tf.constant(rng.random(s.shape) < 0.1)
    if s.dtype.is_integer:
      return tf.zeros(s.shape, s.dtype)
    return tf.constant(rng.normal(size=s.shape) * 0.1, s.dtype)

  batch = dict(tf.nest.map_structure(fake, signature))
  batch['policy_params'] = tf.zeros_like(batch['policy_params'])
  return batch


class FtwStepTest(tf.test.TestCase):

  def test_step_reports_the_kl_terms_and_trains(self):
    config = _config()
    spec = _spec(config)
    step = learner_step.FtwStep(config, spec, tf.distribute.get_strategy())
    batch = _fake_batch(ftw_agent.queue_signature(config, spec))
    before = [v.numpy() for v in step.network.trainable_variables]
    stats, _ = step.train_on_batch(batch, step.epoch_orders())
    metrics = step.metrics(stats.numpy(), 0)
    for name in learner_step.FTW_LOSSES:
      self.assertTrue(np.isfinite(metrics[f'loss/{name}']), name)
    self.assertGreater(metrics['loss/ftw_kl'], 0.0)
    after = [v.numpy() for v in step.network.trainable_variables]
    self.assertTrue(any(not np.allclose(a, b) for a, b in zip(before, after)))

  def test_the_objective_holds_the_weighted_kl_terms(self):
    config = _config(ftw=dict(fast_units=16, slow_units=16, latent_size=8, hidden_size=16,
                              kl_cost=0.5, prior_cost=0.25))
    spec = _spec(config)
    step = learner_step.FtwStep(config, spec, tf.distribute.get_strategy())
    rng = np.random.default_rng(1)
    first = np.zeros([T, B], bool)
    first[0] = True
    inputs = core_networks.NetworkInput(
        observation=tf.constant(rng.normal(size=[T, B, 4]), tf.float32),
        first=tf.constant(first), prev_action=tf.zeros([T, B], tf.int32),
        prev_reward=tf.ones([T, B]))
    tf.random.set_seed(3)
    _, terms = step.unroll_for_loss(inputs, step.network.initial_state(B), None)
    tf.random.set_seed(3)
    _, latents, _ = step.network.unroll_with_latents(inputs, step.network.initial_state(B))
    mask = np.ones([T, B], np.float32)
    mask[-1] = 0.0
    raw = step.network.auxiliary_losses(latents, tf.constant(mask))
    self.assertAllClose(terms['ftw_kl'], 0.5 * raw['ftw_kl'], rtol=1e-5)
    self.assertAllClose(terms['ftw_prior'], 0.25 * raw['ftw_prior'], rtol=1e-5)
    # PBT sets the weights through their variables, without a retrace.
    step.hyperparameter_variables()['kl_cost'].assign(2.0)
    tf.random.set_seed(3)
    _, terms = step.unroll_for_loss(inputs, step.network.initial_state(B), None)
    self.assertAllClose(terms['ftw_kl'], 2.0 * raw['ftw_kl'], rtol=1e-5)

  def test_pbt_sees_every_searchable_hyperparameter(self):
    config = _config()
    step = learner_step.FtwStep(config, _spec(config), tf.distribute.get_strategy())
    variables = step.hyperparameter_variables()
    for spec in registry.info('ftw').searchable:
      self.assertIn(spec.name, variables)
    self.assertEqual(float(variables['slow_period']), 3.0)
    # τ and the gradient scale are the network's: published with its weights.
    published = {v.ref() for v in step.network.variables}
    self.assertIn(variables['slow_period'].ref(), published)
    self.assertIn(variables['fast_to_slow_gradient_scale'].ref(), published)


class InternalRewardTest(tf.test.TestCase):

  def test_game_points_times_weights(self):
    self.assertEqual(ftw_config.NUM_EVENTS, len(events.EVENTS))
    searchable = {h.name: h for h in registry.info('ftw').searchable}
    self.assertEqual(searchable['event_weights'].size, len(events.EVENTS))
    config = _config()
    network = networks.make_network(config, _spec(config))
    weights = np.array(config.ftw.event_weights)
    counts = np.random.default_rng(0).integers(0, 3, size=(5, 2, len(events.EVENTS)))
    self.assertAllClose(network.internal_reward(counts), counts @ weights)
    # The default: +1 for a capture by me, −1 by the opponents, 0.2 a pick-up.
    one = np.zeros(len(events.EVENTS))
    one[events.INDEX['captured']] = 1
    one[events.INDEX['picked_up']] = 2
    self.assertAllClose(network.internal_reward(one[None]), [1.4])
    network.event_weights.assign(np.ones(len(events.EVENTS)))
    self.assertAllClose(network.internal_reward(one[None]), [3.0])


@pytest.mark.slow   # two real learners: 20 s on a slow day
class PbtCopyTest(tf.test.TestCase):
  """A PBT exploit between two FTW learners carries τ and the reward
  weights with the network."""

  def _learner(self, config, logdir, seed):
    spec = environments.env_spec(config)
    signature = ftw_agent.queue_signature(config, spec)
    rng = np.random.default_rng(seed)

    def sample(s):
      shape = (config.items_per_batch, *s.shape)
      if s.dtype == tf.bool:
        return np.zeros(shape, bool)
      if s.dtype.is_integer:
        return np.zeros(shape, s.dtype.as_numpy_dtype)
      return (rng.normal(size=shape) * 0.1).astype(s.dtype.as_numpy_dtype)

    batch = trajectories.to_time_major(tf.nest.map_structure(sample, signature))
    return learner_lib.Learner(config, logdir,
                               dataset_fn=lambda _: tf.data.Dataset.from_tensors(batch).repeat())

  def test_exploit_copies_tau_and_the_reward_weights(self):
    root = self.get_temp_dir()
    pop_dir = os.path.join(root, 'population')
    population_lib.Population(pop_dir).write_size(2)
    pbt = dict(burn_in_frames=0, ready_episodes=10, min_episodes=5, exploit_margin=25.0,
               interval_frames=1, sample_initial=False, hyperparameters=('learning_rate',))
    weights = [np.linspace(-1, 1, 13), np.linspace(1, -1, 13)]
    configs = [config_lib.replace(_config(seed=i, pbt=pbt, optimizer='adam'),
                                  ftw=dict(slow_period=4 + 7 * i,
                                           event_weights=tuple(weights[i])))
               for i in range(2)]
    learners = [self._learner(c, f'{root}/member_{i}', i) for i, c in enumerate(configs)]
    try:
      members = []
      for i, learner in enumerate(learners):
        learner.train_step()
        members.append(member_lib.Member(configs[i], pop_dir, i, learner))
      members[1].add_episodes([400.0] * 10, [0] * 10, [0] * 10)
      learners[1].train_step()
      members[1].after_step()
      members[0].add_episodes([20.0] * 10, [0] * 10, [0] * 10)
      learners[0].train_step()
      net = [learner.train_step_fn.network for learner in learners]
      self.assertEqual(float(net[0].slow_period), 4.0)
      self.assertTrue(members[0].after_step())   # member 0 copies member 1
      self.assertEqual(float(net[0].slow_period), 11.0)
      self.assertAllClose(net[0].event_weights, weights[1])
      for a, b in zip(net[0].variables, net[1].variables):
        self.assertAllEqual(a, b, msg=a.name)
    finally:
      for learner in learners:
        learner.close()


class FtwAgentTest(tf.test.TestCase):

  @pytest.mark.slow   # a SavedModel export and reload: 11 s on a slow day
  def test_greedy_export_acts_as_the_network_on_its_mean_latent(self):
    from tf_agents.trajectories import time_step as ts  # pylint: disable=g-import-not-at-top
    config = _config()
    spec = _spec(config)
    network = networks.make_network(config, spec)
    out = os.path.join(self.get_temp_dir(), 'export')
    export.export_policy(registry.make(config).exported_network(network), spec, config, out)
    loaded = tf.saved_model.load(os.path.join(out, 'greedy'))
    env = environments.make_env(config, B, seed=3)
    obs = env.reset().copy()
    state, net_state = loaded.get_initial_state(B), network.initial_state(B)
    prev_action = np.zeros(B, np.int64)
    reward = np.zeros(B, np.float32)
    step_type = np.zeros(B, np.int32)
    try:
      for _ in range(15):   # past two ticks of the slow core (τ = 3)
        exported = loaded.action(ts.TimeStep(tf.constant(step_type), tf.constant(reward),
                                             tf.ones(B), tf.constant(obs)), state)
        inputs = core_networks.NetworkInput(
            tf.constant(obs[None]), tf.constant(step_type[None] == 0),
            tf.constant(prev_action[None]), tf.constant(reward[None]))
        outputs, net_state = network.unroll(inputs, net_state, sample=False)
        self.assertAllEqual(tf.cast(exported.action, tf.int64),
                            tf.argmax(outputs.policy_params[0], -1, output_type=tf.int64))
        state = exported.state
        prev_action = exported.action.numpy().astype(np.int64)
        obs, reward, terminated, truncated = env.step(prev_action)
        obs = obs.copy()
        step_type = np.where(terminated | truncated, 2, 1).astype(np.int32)
    finally:
      env.close()

  def test_registry_and_config_checks(self):
    self.assertIsInstance(registry.make(_config()), ftw_agent.FtwAgent)
    self.assertEqual(registry.info('ftw').section, 'ftw')
    with self.assertRaisesRegex(config_lib.ConfigError, 'use_lstm'):
      _config(use_lstm=False).validate()
    with self.assertRaisesRegex(config_lib.ConfigError, 'ftw.slow_period'):
      _config(ftw=dict(slow_period=0)).validate()
    with self.assertRaisesRegex(config_lib.ConfigError, 'ftw.fast_to_slow_gradient_scale'):
      _config(ftw=dict(fast_to_slow_gradient_scale=2.0)).validate()
    with self.assertRaisesRegex(config_lib.ConfigError, 'popart'):
      _config(popart=True).validate()


if __name__ == '__main__':
  tf.test.main()
