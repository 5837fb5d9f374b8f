"""The configuration object, its validation and the presets."""

import os

from absl import flags
from absl.testing import parameterized
from ml_collections import config_flags
import tensorflow as tf

from impala_tf import config as config_lib

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _load(preset, *overrides):
  """Loads a preset the way the binaries do: --config=FILE --config.X=Y."""
  argv = ['prog', f'--config={os.path.join(_REPO, "configs", preset)}', *overrides]
  flag_values = flags.FlagValues()
  # ml_collections reads the override flags from the argv it is given.
  config_flags.DEFINE_config_file('config', None, 'preset', flag_values=flag_values,
                                  sys_argv=argv)
  flag_values(argv)
  return flag_values.config.validate()


class ConfigTest(tf.test.TestCase, parameterized.TestCase):

  def test_defaults_are_paper_table_g1(self):
    c = config_lib.ImpalaConfig()
    self.assertEqual(
        (c.unroll_length, c.batch_size, c.entropy_cost, c.rmsprop_epsilon, c.rmsprop_decay,
         c.rmsprop_momentum, c.learning_rate, c.grad_clip_norm, c.discount,
         c.reward_clipping, c.correction),
        (20, 32, 0.01, 0.01, 0.99, 0.0, 0.0006, 40.0, 0.99, 'abs_one', 'vtrace'))

  def test_derived_quantities(self):
    c = config_lib.ImpalaConfig(total_environment_frames=1_000_000)
    self.assertEqual(c.frames_per_learner_step, 32 * 20 * 4)
    self.assertEqual(c.total_learner_steps, 391)  # ceil(1e6 / 2560)
    self.assertEqual(c.items_per_batch, 2)
    self.assertIsNone(config_lib.ImpalaConfig(clip_c_threshold=float('inf'))
                      .threshold('clip_c_threshold'))

  @parameterized.named_parameters(
      ('negative_lr', dict(learning_rate=-1.0), 'learning_rate'),
      ('discount', dict(discount=1.5), r'discount must be in \[0.0, 1.0\]'),
      ('unroll', dict(unroll_length=0), 'unroll_length must be a positive integer'),
      ('correction', dict(correction='retrace'), 'correction must be one of'),
      ('clipping', dict(reward_clipping='sign'), 'reward_clipping'),
      ('torso', dict(torso='vit'), 'torso'),
      ('strategy', dict(strategy='horovod'), 'strategy'),
      ('rho', dict(clip_rho_threshold=0.0), 'clip_rho_threshold'),
      ('batch_multiple', dict(batch_size=30, envs_per_actor=16), 'multiple of envs_per_actor'),
      ('sync', dict(synchronous=True, num_actors=3), 'synchronous'),
      # Synchronous actors wait for each step's update: these would deadlock.
      ('sync_steps_per_call', dict(synchronous=True, num_actors=2, envs_per_actor=16,
                                   batch_size=32, steps_per_call=2), 'steps_per_call'),
      ('sync_lag_steps_per_call', dict(synchronous=True, num_actors=2, envs_per_actor=16,
                                       batch_size=32, policy_lag=2, steps_per_call=2),
       'steps_per_call'),
      ('sync_publish', dict(synchronous=True, num_actors=2, envs_per_actor=16, batch_size=32,
                            publish_every_steps=2), 'publish_every_steps'),
      ('sync_lag_publish', dict(synchronous=True, num_actors=2, envs_per_actor=16,
                                batch_size=32, policy_lag=1, publish_every_steps=3),
       'publish_every_steps'),
      ('sync_step_steps_per_call', dict(architecture='a2c_sync_step', num_actors=2,
                                        envs_per_actor=16, batch_size=32, steps_per_call=2),
       'steps_per_call'),
      ('hidden', dict(mlp_hidden_sizes=(64, -1)), 'mlp_hidden_sizes'),
      ('sticky', dict(sticky_action_probability=1.2), 'sticky_action_probability'),
      ('nan', dict(entropy_cost=float('nan')), 'entropy_cost'),
      ('optimizer', dict(optimizer='sgd'), 'optimizer must be one of'),
      ('schedule', dict(lr_schedule='exponential'), 'lr_schedule'),
      ('decay_frames', dict(lr_decay_frames=0), 'lr_decay_frames'),
      ('lambda', dict(vtrace_lambda=1.5), 'vtrace_lambda'),
      ('reduction', dict(loss_reduction='max'), 'loss_reduction'),
      ('minibatches', dict(num_minibatches=5), 'multiple of num_minibatches'),
      ('epochs', dict(num_epochs=0), 'num_epochs'),
      ('ppo_correction', dict(ppo_clip=0.2, correction='no_correction'), 'ppo_clip'),
      ('initializer', dict(initializer='zeros'), 'initializer'),
      ('bool', dict(observation_normalization='yes'), 'observation_normalization'),
      ('beta', dict(adam_beta2=1.5), 'adam_beta2'),
      ('atari_tasks', dict(tasks=('ALE/Pong-v5', 'ALE/Breakout-v5')), 'full_action_space'),
      ('mixed_tasks', dict(tasks=('ALE/Pong-v5', 'CartPole-v1')), 'all Atari or all'),
      ('scales', dict(tasks=('CartPole-v1', 'CartPole-v1'), task_reward_scales=(1.0,)),
       'task_reward_scales'),
      ('popart_sigma', dict(popart_sigma_min=2.0, popart_sigma_max=1.0), 'popart_sigma_max'),
      ('replay_share', dict(replay_fraction=0.3), 'whole number of unrolls'),
      ('replay_all', dict(replay_fraction=1.0), 'at least one fresh unroll'),
      ('replay_min_size', dict(replay_capacity=50, replay_min_size=60), 'replay_min_size'),
      ('pbt_interval', dict(pbt=dict(interval_frames=0)), 'pbt.interval_frames'),
      ('pbt.min_episodes', dict(pbt=dict(min_episodes=200, ready_episodes=100)),
       'pbt.min_episodes'),
      ('pbt_margin', dict(pbt=dict(exploit_margin=-1.0)), 'pbt.exploit_margin'),
      ('pbt_stale', dict(pbt=dict(stale_seconds=0)), 'pbt.stale_seconds'),
      # 100k frames between heartbeats, dead after 60 s: a member at 1,000
      # frames/s would look dead.
      ('pbt_stale_for_heartbeat', dict(pbt=dict(heartbeat_frames=100_000, stale_seconds=60)),
       'pbt.stale_seconds .* fewer than 1667 frames/s'),
      ('pbt_references', dict(pbt=dict(task_references=((5.0, 1.0),))), 'pbt.task_references'),
      ('pbt_names', dict(pbt=dict(hyperparameters=('lr', 'lr'))), 'pbt.hyperparameters'),
      ('pbt_range', dict(pbt=dict(ranges=(('learning_rate', 1e-2, 1e-3),))), 'pbt.ranges'),
  )
  def test_invalid_values_name_the_field(self, kwargs, message):
    with self.assertRaisesRegex(config_lib.ConfigError, message):
      config_lib.ImpalaConfig(**kwargs)

  @parameterized.parameters('cartpole.py', 'pong.py', 'atari.py', 'atari_paper.py',
                            'atari_previous.py', 'cartpole_scales.py', 'atari_multitask.py',
                            'cartpole_pbt.py')
  def test_presets_load(self, preset):
    c = _load(preset)
    self.assertIsInstance(c, config_lib.ImpalaConfig)

  def test_paper_preset_is_table_g1_exactly(self):
    c = _load('atari_paper.py', '--config.env_id=ALE/Breakout-v5')
    self.assertEqual(c.env_id, 'ALE/Breakout-v5')
    self.assertEqual(
        (c.optimizer, c.learning_rate, c.rmsprop_epsilon, c.rmsprop_epsilon_inside_sqrt,
         c.rmsprop_initial_mean_square, c.rmsprop_decay, c.rmsprop_momentum, c.lr_schedule,
         c.lr_decay_frames, c.loss_reduction, c.grad_clip_norm, c.entropy_cost,
         c.baseline_cost, c.unroll_length, c.batch_size, c.num_epochs, c.ppo_clip,
         c.vtrace_lambda, c.observation_normalization, c.episodic_life),
        ('rmsprop', 0.0006, 0.01, True, 1.0, 0.99, 0.0, 'linear', 200_000_000, 'sum', 40.0,
         0.01, 0.5, 20, 32, 1, 0.0, 1.0, False, True))

  def test_tasks(self):
    c = _load('cartpole_scales.py')
    self.assertEqual(c.num_tasks, 2)
    self.assertEqual(c.task_names, ('CartPole-v1', 'CartPole-v1_x1000'))
    self.assertEqual([c.reward_scale(k) for k in range(2)], [1.0, 1000.0])
    single = config_lib.ImpalaConfig(env_id='ALE/Breakout-v5')
    self.assertEqual((single.task_ids, single.task_names), (('ALE/Breakout-v5',),) * 2)
    twice = config_lib.ImpalaConfig(tasks=('CartPole-v1', 'CartPole-v1'))
    self.assertEqual(twice.task_names, ('CartPole-v1#0', 'CartPole-v1#1'))
    multi = _load('atari_multitask.py')
    self.assertGreaterEqual(multi.num_tasks, 3)
    self.assertTrue(multi.full_action_space and multi.popart)
    self.assertGreaterEqual(multi.num_actors, multi.num_tasks)

  def test_any_game_through_the_atari_preset(self):
    c = _load('atari.py', '--config.env_id=ALE/SpaceInvaders-v5')
    self.assertEqual(c.env_id, 'ALE/SpaceInvaders-v5')
    self.assertEqual(_load('pong.py').observation_normalization,
                     _load('atari.py').observation_normalization)

  def test_command_line_overrides(self):
    c = _load('pong.py', '--config.entropy_cost=0.02', '--config.use_lstm=true',
              '--config.mlp_hidden_sizes=(32,16)', '--config.clip_c_threshold=inf')
    self.assertEqual(c.entropy_cost, 0.02)
    self.assertTrue(c.use_lstm)
    self.assertEqual(c.mlp_hidden_sizes, (32, 16))
    self.assertIsNone(c.threshold('clip_c_threshold'))

  def test_invalid_override_rejected(self):
    with self.assertRaisesRegex(config_lib.ConfigError, 'batch_size'):
      _load('pong.py', '--config.batch_size=-4')

  def test_section_overrides_from_the_command_line(self):
    c = _load('r2d2_pong.py', '--config.r2d2.n_step=3',
              "--config.pbt.ranges=(('learning_rate',1e-4,1e-3),)")
    self.assertEqual(c.r2d2.n_step, 3)
    self.assertEqual(c.r2d2.sequence_length, 40)   # the preset's, untouched
    self.assertEqual(c.pbt.range_overrides(), {'learning_rate': (1e-4, 1e-3)})
    with self.assertRaisesRegex(config_lib.ConfigError, '^r2d2.n_step'):
      _load('r2d2_pong.py', '--config.r2d2.n_step=40')

  def test_presets_derived_from_presets_keep_the_sections_they_do_not_change(self):
    atari, pong = _load('r2d2_atari.py'), _load('r2d2_pong.py')
    self.assertEqual(pong.r2d2.n_step, atari.r2d2.n_step)
    self.assertEqual(pong.r2d2.value_rescaling_epsilon, 1e-3)
    self.assertEqual(pong.r2d2.sequence_length, 40)
    self.assertNotEqual(atari.r2d2.sequence_length, 40)
    # The paper's Atari setting: importance weights with exponent 0.6 (its
    # appendix table), where the config's default has none.
    self.assertEqual((atari.r2d2.importance_sampling_exponent,
                      pong.r2d2.importance_sampling_exponent), (0.6, 0.6))
    self.assertEqual(config_lib.ImpalaConfig().r2d2.importance_sampling_exponent, 0.0)
    with self.assertRaisesRegex(config_lib.ConfigError,
                                "^r2d2.loss_reduction must be one of .*'sum'"):
      _load('r2d2_pong.py', '--config.r2d2.loss_reduction=sum')
    # replace() copies the sections: changing one config's leaves the other's.
    copy = config_lib.replace(pong, r2d2=dict(n_step=2))
    self.assertEqual((copy.r2d2.n_step, pong.r2d2.n_step), (2, 5))

  def test_the_run_file_round_trips_with_its_sections(self):
    c = config_lib.replace(_load('r2d2_pong.py'), r2d2=dict(n_step=4),
                           pbt=dict(ranges=(('learning_rate', 1e-4, 1e-3),), min_episodes=7))
    path = os.path.join(self.get_temp_dir(), 'config.py')
    config_lib.write_config_file(c, path)
    self.assertEqual(config_lib.load_config_file(path), c)

  def test_a_run_written_before_the_sections_still_loads(self):
    # A run directory's config.py from before the sections: flat names.
    path = os.path.join(self.get_temp_dir(), 'config.py')
    with open(path, 'w') as f:
      f.write('from impala_tf.config import ImpalaConfig\n\n\n'
              'def get_config():\n'
              "  return ImpalaConfig(env_id='CartPole-v1', torso='mlp', action_repeat=1,\n"
              '                      r2d2_n_step=3, r2d2_burn_in=8,\n'
              "                      pbt_hyperparameters=('learning_rate',),\n"
              '                      pbt_learning_rate_range=(1e-4, 1e-2),\n'
              '                      pbt_ready_episodes=50, pbt_min_episodes=10)\n')
    c = config_lib.load_config_file(path)
    self.assertEqual((c.r2d2.n_step, c.r2d2.burn_in), (3, 8))
    self.assertEqual(c.pbt.hyperparameters, ('learning_rate',))
    self.assertEqual(c.pbt.ranges, (('learning_rate', 1e-4, 1e-2),))
    self.assertEqual((c.pbt.ready_episodes, c.pbt.min_episodes), (50, 10))


if __name__ == '__main__':
  tf.test.main()
