"""The binaries refuse bad input at once, with one line naming the problem."""

import os
import subprocess
import sys

from absl.testing import parameterized
import tensorflow as tf

from impala_tf import command_line
from impala_tf import config as config_lib

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class OverridesTest(tf.test.TestCase):

  def test_a_typo_names_the_nearest_field(self):
    message = command_line.unknown_override(['x', '--config=c.py', '--config.batch_sise=8'])
    self.assertIn("'batch_sise'", message)
    self.assertIn('batch_size', message)

  def test_known_fields_and_other_flags_pass(self):
    self.assertIsNone(command_line.unknown_override(
        ['x', '--config=c.py', '--config.batch_size=8', '--logdir=r',
         "--config.pbt.ranges=(('learning_rate',1e-3,1e-2),)", '--config.r2d2.n_step=3']))

  def test_a_misspelt_section_field_names_the_nearest(self):
    message = command_line.unknown_override(['x', '--config.r2d2.n_stpe=3'])
    self.assertIn("'r2d2.n_stpe'", message)
    self.assertIn('r2d2.n_step', message)
    message = command_line.unknown_override(['x', '--config.r2d3.n_step=3'])
    self.assertIn("'r2d3'", message)
    self.assertIn('r2d2', message)

  def test_an_old_flat_name_names_the_new_one(self):
    message = command_line.unknown_override(['x', '--config.r2d2_n_step=3'])
    self.assertIn('--config.r2d2.n_step=', message)
    message = command_line.unknown_override(['x', '--config.pbt_learning_rate_range=(1,2)'])
    self.assertIn('--config.pbt.ranges=', message)
    message = command_line.unknown_override(['x', '--config.batch_size.x=3'])
    self.assertIn('batch_size has no fields', message)

  def test_unknown_env_id_names_the_nearest(self):
    with self.assertRaisesRegex(config_lib.ConfigError, r"'ALE/Pongg-v5'.*ALE/Pong-v5"):
      command_line.check_env_ids(('ALE/Pongg-v5',))
    with self.assertRaisesRegex(config_lib.ConfigError, 'CartPole-v1'):
      command_line.check_env_ids(('CartPole-v9',))
    command_line.check_env_ids(('CartPole-v1', 'ALE/Breakout-v5'))

  def test_a_module_prefixed_id_imports_its_module(self):
    # gymnasium's 'module:Id': minigrid registers its ids when imported.
    command_line.check_env_ids(('minigrid:MiniGrid-MemoryS7-v0',))
    with self.assertRaisesRegex(config_lib.ConfigError, r"'MiniGrid-MemoryS8-v0'.*MemoryS7"):
      command_line.check_env_ids(('minigrid:MiniGrid-MemoryS8-v0',))
    with self.assertRaisesRegex(config_lib.ConfigError, "module 'no_such_module'"):
      command_line.check_env_ids(('no_such_module:Thing-v0',))


_A3C_MEMBER = ['--config.architecture=a3c', '--config.popart=false',
               '--config.observation_normalization=false',
               "--config.pbt.hyperparameters=('learning_rate','entropy_cost')",
               '--pbt_dir={tmp}/pop', '--pbt_member=0']


class BinariesTest(tf.test.TestCase, parameterized.TestCase):

  @parameterized.named_parameters(
      ('field_typo', 'cartpole.py', ['--config.batch_sise=8'], 'batch_size'),
      ('env_typo', 'pong.py', ['--config.env_id=ALE/Pongg-v5'], 'ALE/Pong-v5'),
      ('sync_steps_per_call', 'cartpole.py',
       ['--config.synchronous=true', '--config.steps_per_call=2'], 'steps_per_call'),
      ('sync_publish', 'cartpole.py',
       ['--config.synchronous=true', '--config.publish_every_steps=2'], 'publish_every_steps'),
      # A population member that cannot search what it is asked to: refused
      # before the learner starts (it was a traceback from a serving one),
      # through either binary that takes --pbt_dir.
      ('a3c_member_entropy_cost', 'cartpole.py', _A3C_MEMBER, 'cannot search entropy_cost'),
      ('a3c_member_learner_binary', 'cartpole.py', _A3C_MEMBER, 'cannot search entropy_cost',
       'learner.py'),
      # Half a member's flags: one line and status 2, from both binaries.
      ('member_without_index', 'cartpole.py', ['--pbt_dir={tmp}/pop'],
       '--pbt_dir and --pbt_member go together'),
      ('index_without_member_dir_learner', 'cartpole.py', ['--pbt_member=1'],
       '--pbt_dir and --pbt_member go together', 'learner.py'),
      ('member_unknown_hyperparameter', 'cartpole.py',
       ["--config.pbt.hyperparameters=('momentum',)", '--pbt_dir={tmp}/pop', '--pbt_member=0'],
       "cannot search 'momentum'"),
  )
  def test_train_local_ends_at_once_with_one_line(self, preset, flags, expected,
                                                  binary='train_local.py'):
    logdir = os.path.join(self.get_temp_dir(), self.id().rsplit('.', 1)[-1])
    flags = [f.replace('{tmp}', self.get_temp_dir()) for f in flags]
    extra = ['--isolate_network=false'] if binary == 'train_local.py' else []
    proc = subprocess.run(
        [sys.executable, os.path.join(_REPO, 'binaries', binary),
         f'--config={os.path.join(_REPO, "configs", preset)}', f'--logdir={logdir}',
         *extra, *flags],
        capture_output=True, text=True, timeout=120, check=False,
        # train_local: no TF_CPP_MIN_LOG_LEVEL, nothing that logs (TensorFlow)
        # is loaded. The learner binary imports TensorFlow, whose start-up
        # lines are not the refusal.
        env=dict({k: v for k, v in os.environ.items() if k != 'TF_CPP_MIN_LOG_LEVEL'},
                 **({} if binary == 'train_local.py' else {'TF_CPP_MIN_LOG_LEVEL': '3'})))
    self.assertEqual(proc.returncode, command_line.EXIT_STATUS, proc.stderr)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    if binary != 'train_local.py':
      # What importing the learner's libraries prints before the check
      # (gym's notice, imported by a dependency) is not the refusal.
      lines = lines[-1:]
    self.assertLen(lines, 1, proc.stderr)
    self.assertIn(expected, lines[0])
    self.assertNotIn('Traceback', proc.stderr)
    self.assertFalse(os.path.exists(logdir))   # nothing was started
    self.assertFalse(os.path.exists(os.path.join(self.get_temp_dir(), 'pop')))


if __name__ == '__main__':
  tf.test.main()
