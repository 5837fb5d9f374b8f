"""The paper's baselines end to end: A3C and batched A2C (synchronous per step)
learn CartPole through the ordinary `train_local.py`, one config field apart."""

import json
import os
import subprocess
import sys

import tensorflow as tf

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _train_cartpole(logdir, *overrides):
  """Runs configs/cartpole.py for 200k frames; returns its final JSON line."""
  proc = subprocess.run(
      [sys.executable, os.path.join(_REPO, 'binaries', 'train_local.py'),
       f'--config={os.path.join(_REPO, "configs", "cartpole.py")}', f'--logdir={logdir}',
       '--config.total_environment_frames=200000', '--config.lr_decay_frames=200000',
       *overrides],
      capture_output=True, text=True, timeout=900, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL='3'),
      check=False)
  assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
  return json.loads([l for l in proc.stdout.splitlines() if l.startswith('{')][-1])


class ArchitecturesTest(tf.test.TestCase):

  def test_a3c_learns_cartpole(self):
    result = _train_cartpole(os.path.join(self.get_temp_dir(), 'a3c'),
                             '--config.architecture=a3c')
    self.assertGreaterEqual(result['env_frames'], 200000)
    self.assertGreaterEqual(result['episode_return_mean'], 150.0, result)

  def test_sync_step_learns_cartpole_without_actor_processes(self):
    logdir = os.path.join(self.get_temp_dir(), 'sync_step')
    result = _train_cartpole(logdir, '--config.architecture=a2c_sync_step')
    self.assertGreaterEqual(result['env_frames'], 200000)
    self.assertGreaterEqual(result['episode_return_mean'], 150.0, result)
    # The learner stepped every environment itself, with the newest weights.
    self.assertEqual(sorted(os.listdir(os.path.join(logdir, 'logs'))), ['learner.log'])
    with open(os.path.join(logdir, 'status.json')) as f:
      self.assertEqual(json.load(f)['policy_lag'], 0.0)


if __name__ == '__main__':
  tf.test.main()
