"""The actor against a real Reverb server on loopback and real environments."""

import threading

import numpy as np
import reverb
import tensorflow as tf

from impala_tf import actor as actor_lib
from impala_tf import config as config_lib
from impala_tf import environments
from impala_tf import networks
from impala_tf import stepping
from impala_tf import trajectories
from impala_tf import trajectory_queue
from impala_tf import weights as weights_lib


def _serve(config):
  """A server with the learner's two tables, weights version 7 published."""
  spec = environments.env_spec(config)
  dist = spec.distribution
  net = networks.make_network(config, spec.observation_shape, dist, spec.channels_first)
  step_specs = trajectories.step_spec(spec, dist, config.envs_per_actor,
                                      config.lstm_units if config.use_lstm else 0)
  server = reverb.Server([
      trajectory_queue.queue_table(
          config, trajectories.item_signature(step_specs, config.unroll_length)),
      *weights_lib.weights_tables(net.variables)], port=None)
  client = reverb.Client(f'127.0.0.1:{server.port}')
  publisher = weights_lib.WeightPublisher(client, net.variables)
  publisher.publish(7)
  return server, net, dist


def _items(server, count):
  dataset = reverb.TrajectoryDataset.from_table_signature(
      f'127.0.0.1:{server.port}', trajectory_queue.TRAJECTORY_TABLE,
      max_in_flight_samples_per_worker=1)
  return [tf.nest.map_structure(lambda x: x.numpy(), s.data) for s in dataset.take(count)]


class ActorTest(tf.test.TestCase):

  def _run(self, config, unrolls):
    return self._run_actor(config, unrolls, task=0)

  def _run_actor(self, config, unrolls, task):
    server, net, dist = _serve(config)
    actor = actor_lib.Actor(config, f'127.0.0.1:{server.port}', task=task)
    thread = threading.Thread(target=actor.run, kwargs={'max_unrolls': unrolls}, daemon=True)
    thread.start()
    items = _items(server, unrolls)
    thread.join(timeout=60)
    self.assertFalse(thread.is_alive())
    server.stop()
    return items, actor, net, dist

  def test_unrolls_overlap_and_episode_ends(self):
    t_len, e = 5, 3
    config = config_lib.ImpalaConfig(
        env_id='CartPole-v1', torso='mlp', action_repeat=1, unroll_length=t_len,
        envs_per_actor=e, batch_size=e, queue_capacity=8, max_episode_steps=4)
    items, actor, net, dist = self._run(config, unrolls=4)
    self.assertEqual(items[0]['observation'].shape, (t_len + 1, e, 4))
    self.assertEqual(items[0]['action'].shape, (t_len, e))
    for a, b in zip(items, items[1:]):
      for name in ('observation', 'first', 'reward', 'terminal', 'last', 'episode_return'):
        self.assertAllEqual(a[name][-1], b[name][0], msg=name)
    # Concatenate the steps of all items (dropping overlaps) and check the
    # gymnasium next-step reset convention with 4-step truncation.
    obs_cols = {k: np.concatenate([items[0][k]] + [it[k][1:] for it in items[1:]])
                for k in ('first', 'reward', 'terminal', 'last', 'episode_length',
                          'episode_return', 'prev_action')}
    actions = np.concatenate([it['action'] for it in items])
    self.assertTrue(obs_cols['first'][0].all())
    lasts = np.argwhere(obs_cols['last'])
    self.assertNotEmpty(lasts)
    for t, i in lasts:
      self.assertEqual(obs_cols['episode_length'][t, i], 4)  # truncated by the limit
      self.assertFalse(obs_cols['terminal'][t, i])           # ... not terminated
      self.assertEqual(obs_cols['episode_return'][t, i], 4.0)
      if t + 1 < len(obs_cols['first']):
        self.assertTrue(obs_cols['first'][t + 1, i])
        self.assertEqual(obs_cols['reward'][t + 1, i], 0.0)
        self.assertEqual(obs_cols['prev_action'][t + 1, i], 0)
    inner = ~obs_cols['first'][1:]
    self.assertAllEqual(obs_cols['prev_action'][1:][inner], actions[inner])
    self.assertEqual(list(actor.episode_returns)[:3], [4.0, 4.0, 4.0])
    # Every action came from the published weights, version 7.
    for item in items:
      self.assertTrue((item['weights_version'] == 7).all())
    # The recorded behaviour logits are the network's output for the
    # recorded observations (the actor copied the published weights).
    item = items[1]
    out, _ = net.unroll(networks.NetworkInput(item['observation'], item['first'],
                                              item['prev_action'], item['reward']), ())
    self.assertAllClose(out.policy_params[:-1], item['policy_params'], atol=1e-5)

  def test_an_episode_is_dated_by_the_weights_of_its_first_action(self):
    # 4-step episodes, weights changing every 3 steps (versions 10, 11, ...):
    # where an episode ends, `episode_version` is the version that took its
    # first action, not the one acting when it ended (PBT's fitness window
    # counts an episode only if the weights it measures started it).
    config = config_lib.ImpalaConfig(
        env_id='CartPole-v1', torso='mlp', action_repeat=1, unroll_length=3,
        envs_per_actor=2, batch_size=2, max_episode_steps=4)
    stepper = stepping.Stepper(
        config, 0, 0, lambda spec: networks.make_acting_network(config, spec))
    try:
      stepper.reset_envs()
      part = stepping.copy_part(stepper.observation_part())
      unrolls = []
      for version in range(10, 16):
        stepper.weights_version = version
        unroll, part = stepper.collect_unroll(part)
        unrolls.append(unroll)
    finally:
      stepper.close()
    cols = {k: np.concatenate([unrolls[0][k]] + [u[k][1:] for u in unrolls[1:]])
            for k in ('last', 'first', 'episode_version', 'episode_length')}
    acted = np.concatenate([u['weights_version'] for u in unrolls])   # [18, E]
    ends = np.argwhere(cols['last'])
    self.assertGreaterEqual(len(ends), 6)
    for t, e in ends:
      start = t - cols['episode_length'][t, e]       # step of its first action
      self.assertTrue(cols['first'][start, e])
      self.assertEqual(cols['episode_version'][t, e], acted[start, e], (t, e))
    # Some episodes end under newer weights than started them.
    self.assertTrue(any(acted[t - 1, e] > cols['episode_version'][t, e] for t, e in ends))
    # The learner's rows carry it as the fifth (trajectories.EPISODE_ROWS).
    rows = trajectories.finished_episodes(unrolls[2]).numpy()
    self.assertEqual(trajectories.EPISODE_ROWS[4], 'start_version')
    done = rows[0] > 0
    self.assertAllEqual(rows[4][done], unrolls[2]['episode_version'][1:][done])

  def test_lstm_core_state_recorded_at_unroll_start(self):
    config = config_lib.ImpalaConfig(
        env_id='CartPole-v1', torso='mlp', action_repeat=1, unroll_length=4,
        envs_per_actor=2, batch_size=2, use_lstm=True, lstm_units=8)
    items, _, net, _ = self._run(config, unrolls=3)
    self.assertEqual(items[0]['core_state'][0].shape, (2, 8))
    self.assertAllEqual(items[0]['core_state'][0], np.zeros((2, 8)))
    # Replaying item 1 from its recorded state reproduces the actor's logits.
    item = items[1]
    out, _ = net.unroll(networks.NetworkInput(item['observation'], item['first'],
                                              item['prev_action'], item['reward']),
                        tuple(item['core_state']))
    self.assertAllClose(out.policy_params[:-1], item['policy_params'], atol=1e-5)
    self.assertGreater(np.abs(item['core_state'][0]).sum(), 0.0)

  def test_multitask_actor_records_its_task(self):
    config = config_lib.ImpalaConfig(
        env_id='CartPole-v1', tasks=('CartPole-v1', 'CartPole-v1'), torso='mlp',
        action_repeat=1, unroll_length=3, envs_per_actor=2, batch_size=2)
    items, actor, _, _ = self._run_actor(config, unrolls=2, task=3)
    self.assertEqual(actor.task_id, 1)                   # actor 3 of 2 tasks: 3 % 2
    self.assertTrue((items[0]['task'] == 1).all())

  def test_atari_actor(self):
    config = config_lib.ImpalaConfig(
        env_id='ALE/Pong-v5', unroll_length=3, envs_per_actor=2, batch_size=2)
    items, actor, _, _ = self._run(config, unrolls=2)
    self.assertEqual(items[0]['observation'].shape, (4, 2, 4, 84, 84))
    self.assertEqual(items[0]['observation'].dtype, np.uint8)
    self.assertEqual(items[0]['policy_params'].shape, (3, 2, 6))
    self.assertEqual(actor.env_frames, 2 * 3 * 2 * 4)  # unrolls × T × envs × repeat

  def test_actor_acts_within_its_games_action_mask(self):
    config = config_lib.ImpalaConfig(
        env_id='ALE/Pong-v5', tasks=('ALE/Pong-v5', 'ALE/Breakout-v5'), num_actors=2,
        full_action_space=True, task_action_masks=True, unroll_length=10, envs_per_actor=2,
        batch_size=2)
    items, actor, _, _ = self._run_actor(config, unrolls=3, task=1)   # Breakout
    allowed = [0, 1, 3, 4]                            # NOOP, FIRE, RIGHT, LEFT
    actions = np.concatenate([item['action'].ravel() for item in items])
    self.assertLen(actions, 3 * 10 * 2)
    self.assertTrue(set(actions.tolist()) <= set(allowed), actions)
    params = np.concatenate([item['policy_params'] for item in items])
    masked = np.delete(params, allowed, axis=-1)
    self.assertAllEqual(np.full_like(masked, networks.MASKED_LOGIT), masked)
    self.assertTrue((np.take(params, allowed, axis=-1) > -1e3).all())

  def test_episodic_life_is_terminal_for_learning_only(self):
    def steps(episodic_life):
      config = config_lib.ImpalaConfig(
          env_id='ALE/Breakout-v5', unroll_length=50, envs_per_actor=2, batch_size=2,
          episodic_life=episodic_life, seed=3)
      items, _, _, _ = self._run(config, unrolls=8)
      # Consecutive steps of the actor: each item after the first repeats
      # the previous item's last observation part.
      return {k: np.concatenate([items[0][k]] + [i[k][1:] for i in items[1:]])
              for k in ('terminal', 'last', 'first', 'episode_return', 'episode_length')}

    s = steps(True)
    life_lost = s['terminal'] & ~s['last']
    self.assertGreaterEqual(life_lost.sum(), 2, 'no life was lost in 400 steps of 2 envs')
    for t, e in zip(*np.nonzero(life_lost[:-1])):
      # The game goes on: no reset, the reported return and length continue.
      self.assertFalse(s['first'][t + 1, e])
      self.assertEqual(s['episode_length'][t + 1, e], s['episode_length'][t, e] + 1)
      self.assertGreaterEqual(s['episode_return'][t + 1, e], s['episode_return'][t, e])
    # Games still end (terminal and last together) only with the last life.
    self.assertTrue(np.all(s['terminal'][s['last']] | ~s['last'][s['last']]))
    plain = steps(False)
    self.assertFalse(np.any(plain['terminal'] & ~plain['last']))

  def test_episodic_life_needs_atari(self):
    with self.assertRaisesRegex(config_lib.ConfigError, 'episodic_life'):
      config_lib.ImpalaConfig(env_id='CartPole-v1', episodic_life=True)


class EnvironmentsTest(tf.test.TestCase):

  def test_atari_game_names(self):
    self.assertEqual(environments.atari_game_name('ALE/Pong-v5'), 'pong')
    self.assertEqual(environments.atari_game_name('ALE/SpaceInvaders-v5'), 'space_invaders')
    with self.assertRaisesRegex(ValueError, 'ALE/Pong-v5'):
      environments.atari_game_name('PongNoFrameskip-v4')

  def test_atari_spec_and_unclipped_rewards(self):
    config = config_lib.ImpalaConfig(env_id='ALE/Pong-v5')
    env = environments.make_env(config, 2, seed=1)
    spec = env.spec
    self.assertEqual(spec.observation_shape, (4, 84, 84))
    self.assertTrue(spec.channels_first)
    self.assertEqual(spec.action_space.n, 6)
    obs = env.reset()
    self.assertEqual(obs.shape, (2, 4, 84, 84))
    env.close()

  def test_tasks_share_spaces_and_scale_rewards(self):
    config = config_lib.ImpalaConfig(env_id='CartPole-v1', tasks=('CartPole-v1', 'Acrobot-v1'))
    with self.assertRaisesRegex(ValueError, "'Acrobot-v1'"):
      environments.env_spec(config)
    config = config_lib.ImpalaConfig(tasks=('CartPole-v1', 'CartPole-v1'),
                                     task_reward_scales=(1.0, 1000.0))
    rewards = []
    for task in range(2):
      env = environments.make_env(config, 2, seed=3, task=task)
      env.reset()
      rewards.append(env.step(np.zeros(2, np.int64))[1])
      env.close()
    self.assertAllEqual(rewards[0] * 1000.0, rewards[1])
    with self.assertRaisesRegex(ValueError, 'task must be in'):
      environments.make_env(config, 1, seed=0, task=2)

  def test_atari_full_action_space(self):
    config = config_lib.ImpalaConfig(env_id='ALE/Pong-v5', full_action_space=True)
    self.assertEqual(environments.env_spec(config).action_space.n, 18)

  def test_environment_seeds_are_distinct_across_actors(self):
    seeds = [environments.environment_seeds(0, task, 16) for task in range(4)]
    flat = np.concatenate(seeds)
    self.assertLen(set(flat.tolist()), 64)        # no two envs of a run share a seed
    self.assertTrue(((flat >= 0) & (flat < 2**31)).all())
    self.assertAllEqual(seeds[1], environments.environment_seeds(0, 1, 16))  # reproducible
    self.assertNotAllEqual(seeds[0], environments.environment_seeds(1, 0, 16))
    # Envs seeded this way start from different states.
    config = config_lib.ImpalaConfig(env_id='CartPole-v1')
    env = environments.make_env(config, 3, seed=environments.environment_seeds(0, 0, 3))
    first = env.reset()
    env.close()
    self.assertLen({tuple(np.round(o, 6)) for o in first}, 3)

  def test_bad_env_id(self):
    with self.assertRaisesRegex(ValueError, 'NoSuchEnv-v0'):
      environments.make_env(config_lib.ImpalaConfig(env_id='NoSuchEnv-v0'), 1, 0)


if __name__ == '__main__':
  tf.test.main()
