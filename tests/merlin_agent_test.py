"""MERLIN's network, learner step and agent (impala_tf/agents/merlin/):
where the gradients go, the state across unrolls and episode starts, the
queue item, the export, and the config's checks."""

import os

import numpy as np
import tensorflow as tf

from impala_tf import config as config_lib
from impala_tf import environments
from impala_tf import export
from impala_tf import networks as core_networks
from impala_tf.agents import latent
from impala_tf.agents import registry
from impala_tf.agents.merlin import agent as merlin_agent
from impala_tf.agents.merlin import learner_step
from impala_tf.agents.merlin import networks
from impala_tf_configs import merlin_bsuite

T, B = 6, 3


def _config(**changes):
  base = config_lib.replace(merlin_bsuite.get_config(), env_id='bsuite:memory_len/4',
                            envs_per_actor=B, batch_size=B, unroll_length=T)
  return config_lib.replace(base, **changes)


def _spec(config):
  env = environments.make_env(config, 1, seed=0)
  try:
    return env.spec
  finally:
    env.close()


def _inputs(seed=0, first=None, t=T):
  rng = np.random.default_rng(seed)
  if first is None:
    first = np.zeros([t, B], bool)
    first[0] = True
  return core_networks.NetworkInput(
      observation=tf.constant(rng.normal(size=[t, B, 3]), tf.float32),
      first=tf.constant(first),
      prev_action=tf.constant(rng.integers(0, 2, size=[t, B]), tf.int32),
      prev_reward=tf.constant(rng.choice([-1.0, 0.0, 1.0], size=[t, B]), tf.float32))


def _names(variables):
  return [v.name for v in variables]


class MerlinNetworkTest(tf.test.TestCase):

  def setUp(self):
    super().setUp()
    tf.random.set_seed(0)
    self.config = _config()
    self.spec = _spec(self.config)
    self.network = networks.make_network(self.config, self.spec)

  def test_mbp_loss_reaches_the_encoder_and_the_memory_keys(self):
    inputs = _inputs()
    with tf.GradientTape() as tape:
      _, predictions, _ = self.network.unroll_with_predictions(
          inputs, self.network.initial_state(B))
      terms = self.network.mbp_losses(inputs, predictions, tf.ones([T, B]))
      loss = tf.add_n(list(terms.values()))
    variables = self.network.trainable_variables
    grads = dict(zip(_names(variables), tape.gradient(loss, variables)))
    reached = {name for name, g in grads.items()
               if g is not None and float(tf.reduce_sum(tf.abs(g))) > 0}
    for part in ('mlp_torso', 'mbp_keys', 'prior', 'posterior', 'mbp_lstm_0',
                 'observation_decoder'):
      self.assertTrue(any(part in name for name in reached), (part, sorted(reached)))
    # The policy's own variables take no part in the MBP's loss.
    for part in ('policy_lstm', 'policy_keys', 'policy/'):
      self.assertFalse(any(part in name for name in reached), (part, sorted(reached)))

  def test_policy_loss_does_not_reach_the_mbp(self):
    inputs = _inputs()
    policy_vars = [v for v in self.network.trainable_variables
                   if v.ref() not in {m.ref() for m in self.network.mbp_variables()}]
    self.assertNotEmpty(policy_vars)
    with tf.GradientTape(persistent=True) as tape:
      outputs, _ = self.network.unroll(inputs, self.network.initial_state(B))
      logits = outputs.policy_params
      log_pi = tf.nn.log_softmax(logits)
      # A policy-gradient surrogate with fixed advantages, and the entropy.
      advantages = tf.constant(np.random.default_rng(1).normal(size=[T, B]), tf.float32)
      actions = tf.constant(np.random.default_rng(2).integers(0, 2, size=[T, B]), tf.int32)
      chosen = tf.reduce_sum(log_pi * tf.one_hot(actions, 2), -1)
      policy_loss = -tf.reduce_sum(chosen * advantages) - tf.reduce_sum(
          -tf.reduce_sum(tf.exp(log_pi) * log_pi, -1))
    for g, v in zip(tape.gradient(policy_loss, self.network.mbp_variables()),
                    self.network.mbp_variables()):
      self.assertTrue(g is None or float(tf.reduce_max(tf.abs(g))) == 0.0, v.name)
    grads = tape.gradient(policy_loss, policy_vars)
    self.assertTrue(all(g is not None for g in grads))
    # The value (the MBP's return prediction) is trained by its error,
    # which does reach the MBP, and not the policy.
    value_grads = tape.gradient(tf.reduce_sum(outputs.baseline), policy_vars)
    self.assertTrue(all(g is None or float(tf.reduce_max(tf.abs(g))) == 0.0
                        for g in value_grads))

  def test_state_carries_over_an_unroll_boundary(self):
    inputs = _inputs(t=2 * T)
    whole, _ = self.network.unroll(inputs, self.network.initial_state(B), sample=False)
    head = tf.nest.map_structure(lambda x: x[:T], inputs)
    tail = tf.nest.map_structure(lambda x: x[T:], inputs)
    first, state = self.network.unroll(head, self.network.initial_state(B), sample=False)
    second, _ = self.network.unroll(tail, state, sample=False)
    self.assertAllClose(whole.policy_params, tf.concat([first.policy_params,
                                                        second.policy_params], 0), atol=1e-5)
    self.assertAllClose(whole.baseline, tf.concat([first.baseline, second.baseline], 0),
                        atol=1e-5)
    # The memory the first unroll leaves holds its T latents, one row each.
    z = self.config.merlin.latent_size
    written = tf.reduce_any(tf.not_equal(state.memory.memory[..., :z], 0.0), -1)
    self.assertAllEqual(tf.reduce_sum(tf.cast(written, tf.int32), -1), [T] * B)
    # Dropping the carried state changes the second unroll's outputs.
    fresh, _ = self.network.unroll(
        tail._replace(first=tf.zeros_like(tail.first)), self.network.initial_state(B),
        sample=False)
    self.assertGreater(float(tf.reduce_max(tf.abs(fresh.policy_params
                                                  - second.policy_params))), 1e-4)

  def test_state_resets_where_an_episode_starts(self):
    k = 3
    first = np.zeros([T, B], bool)
    first[0] = True
    first[k] = True
    inputs = _inputs(first=first)
    outputs, final = self.network.unroll(inputs, self.network.initial_state(B),
                                         sample=False)
    tail = tf.nest.map_structure(lambda x: x[k:], inputs)
    alone, alone_final = self.network.unroll(tail, self.network.initial_state(B),
                                             sample=False)
    self.assertAllClose(outputs.policy_params[k:], alone.policy_params, atol=1e-5)
    self.assertAllClose(final.memory.memory, alone_final.memory.memory, atol=1e-5)
    self.assertAllClose(final.memory.usage, alone_final.memory.usage, atol=1e-5)

  def test_greedy_export_acts_as_the_network(self):
    out = os.path.join(self.get_temp_dir(), 'export')
    export.export_policy(latent.MeanLatent(self.network), self.spec, self.config, out)
    loaded = tf.saved_model.load(os.path.join(out, 'greedy'))
    env = environments.make_env(self.config, B, seed=3)
    obs = env.reset()
    state = loaded.get_initial_state(B)
    net_state = self.network.initial_state(B)
    prev_action = np.zeros(B, np.int32)
    reward = np.zeros(B, np.float32)
    step_type = np.zeros(B, np.int32)
    for _ in range(12):
      from tf_agents.trajectories import time_step as ts  # pylint: disable=g-import-not-at-top
      time_step = ts.TimeStep(tf.constant(step_type), tf.constant(reward),
                              tf.ones(B), tf.constant(obs))
      exported = loaded.action(time_step, state)
      inputs = core_networks.NetworkInput(tf.constant(obs[None]), tf.constant(step_type[None] == 0),
                                          tf.constant(prev_action[None]),
                                          tf.constant(reward[None]))
      outputs, net_state = self.network.unroll(inputs, net_state, sample=False)
      expected = tf.argmax(outputs.policy_params[0], -1, output_type=tf.int32)
      self.assertAllEqual(exported.action, expected)
      state = exported.state
      prev_action = exported.action.numpy()
      obs, reward, terminated, truncated = env.step(prev_action)
      step_type = np.where(terminated | truncated, 2, 1).astype(np.int32)
      obs = obs.copy()
    env.close()


class MerlinStepTest(tf.test.TestCase):

  def test_step_reports_the_mbp_losses_and_trains(self):
    config = _config(batch_size=B, envs_per_actor=B)
    spec = _spec(config)
    strategy = tf.distribute.get_strategy()
    step = learner_step.MerlinStep(config, spec, strategy)
    signature = merlin_agent.queue_signature(config, spec)
    rng = np.random.default_rng(0)

    def fake(s):
      if s.dtype == tf.bool:
        return tf.constant(rng.random(s.shape) < 0.1)
      if s.dtype.is_integer:
        return tf.zeros(s.shape, s.dtype)
      return tf.constant(rng.normal(size=s.shape) * 0.1, s.dtype)

    item = tf.nest.map_structure(fake, signature)
    item['policy_params'] = tf.zeros_like(item['policy_params'])
    batch = {k: v for k, v in item.items()}
    before = [v.numpy() for v in step.network.trainable_variables]
    stats, _ = step.train_on_batch(batch, step.epoch_orders())
    metrics = step.metrics(stats.numpy(), 0)
    for name in learner_step.MBP_LOSSES:
      self.assertIn(f'loss/{name}', metrics)
      self.assertTrue(np.isfinite(metrics[f'loss/{name}']), name)
    self.assertGreater(metrics['loss/mbp_observation'], 0.0)
    self.assertEqual(metrics['optimizer/skipped_in_batch'], 0.0)
    after = [v.numpy() for v in step.network.trainable_variables]
    self.assertTrue(any(not np.allclose(a, b) for a, b in zip(before, after)))

  def test_the_total_loss_includes_the_weighted_mbp_terms(self):
    config = _config()
    spec = _spec(config)
    step = learner_step.MerlinStep(config, spec, tf.distribute.get_strategy())
    inputs = _inputs()
    tf.random.set_seed(5)
    _, terms = step.unroll_for_loss(inputs, step.network.initial_state(B), None)
    tf.random.set_seed(5)
    _, predictions, _ = step.network.unroll_with_predictions(inputs,
                                                             step.network.initial_state(B))
    mask = np.ones([T, B], np.float32)
    mask[-1] = 0.0        # step T is the next unroll's first
    raw = step.network.mbp_losses(inputs, predictions, tf.constant(mask))
    self.assertAllClose(terms['mbp_kl'], config.merlin.kl_cost * raw['mbp_kl'], rtol=1e-5)
    self.assertAllClose(terms['mbp_observation'],
                        config.merlin.observation_cost * raw['mbp_observation'], rtol=1e-5)
    self.assertEqual(tuple(sorted(terms)), learner_step.MBP_LOSSES)
    self.assertEqual(step.stat_names[-len(step.network.variable_groups()) * 3 - 4:][:4],
                     list(learner_step.MBP_LOSSES))


class MerlinAgentTest(tf.test.TestCase):

  def test_queue_item_carries_the_memory(self):
    config = _config(envs_per_actor=8, batch_size=8, unroll_length=20)
    spec = _spec(config)
    signature = merlin_agent.queue_signature(config, spec)
    memory = signature['core_state'].memory.memory
    rows, z = config.merlin.memory_rows, config.merlin.latent_size
    self.assertEqual(memory.shape, [8, rows, 2 * z])
    self.assertGreater(merlin_agent.item_bytes(config, spec), 8 * rows * 2 * z * 4)

  def test_registry_and_config_checks(self):
    self.assertEqual(registry.info('merlin').section, 'merlin')
    self.assertIsInstance(registry.make(_config()), merlin_agent.MerlinAgent)
    with self.assertRaisesRegex(config_lib.ConfigError, 'use_lstm'):
      _config(use_lstm=False).validate()
    with self.assertRaisesRegex(config_lib.ConfigError, 'merlin.memory_rows'):
      _config(merlin=dict(memory_rows=0)).validate()
    with self.assertRaisesRegex(config_lib.ConfigError, 'popart'):
      _config(popart=True).validate()
    with self.assertRaisesRegex(config_lib.ConfigError, 'merlin.log_std_min'):
      _config(merlin=dict(log_std_min=3.0)).validate()


if __name__ == '__main__':
  tf.test.main()
