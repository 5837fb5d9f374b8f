"""The paper's baselines end to end: A3C and batched A2C (synchronous per step)
learn CartPole through the ordinary `train_local.py`, one config field apart."""

import json
import os

import pytest
import tensorflow as tf

import small_runs  # tests/small_runs.py

# Tier (pytest.ini): trains to return thresholds.
pytestmark = pytest.mark.learning


def _train_cartpole(logdir, *overrides):
  """Runs configs/cartpole.py for 200k frames; returns its final JSON line."""
  return small_runs.train_local(logdir, '--config.total_environment_frames=200000',
                                '--config.lr_decay_frames=200000', *overrides, timeout=900)


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
