"""An actor started with another configuration than its learner's stops with
one line naming the fields, against a real learner on loopback."""

import os
import subprocess
import sys

import pytest
import tensorflow as tf

from impala_tf import config as config_lib
from impala_tf import learner as learner_lib
from impala_tf import run_config
import small_runs  # tests/small_runs.py

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _config(**kwargs):
  return small_runs.cartpole(**kwargs)


class RunConfigTest(tf.test.TestCase):

  def test_differences_only_in_fields_that_matter(self):
    mine = run_config.to_json(_config(use_lstm=True, learning_rate=0.1, envs_per_actor=8))
    theirs = run_config.to_json(_config())
    import json  # pylint: disable=g-import-not-at-top
    found = run_config.differences(json.loads(mine), json.loads(theirs))
    self.assertEqual([('envs_per_actor', 8, 4), ('use_lstm', True, False)], found)
    # Fields inside a section are compared too; others of the section are not.
    mine = run_config.to_json(_config(r2d2=dict(burn_in=7, target_period=3)))
    found = run_config.differences(json.loads(mine), json.loads(theirs))
    self.assertEqual([('r2d2.burn_in', 7, 40)], found)

  @pytest.mark.system
  def test_mismatched_actor_exits_with_one_line(self):
    config = _config()
    config_file = os.path.join(self.get_temp_dir(), 'config.py')
    config_lib.write_config_file(config, config_file)
    learner = learner_lib.Learner(config, self.get_temp_dir() + '/run')
    try:
      for overrides, fields in ((['--config.use_lstm=true'], ['use_lstm']),
                                (['--config.envs_per_actor=8', '--config.batch_size=8'],
                                 ['envs_per_actor'])):
        proc = subprocess.run(
            [sys.executable, os.path.join(_REPO, 'binaries', 'actor.py'),
             f'--config={config_file}', f'--learner_address=127.0.0.1:{learner.port}',
             '--max_unrolls=3', *overrides],
            capture_output=True, text=True, timeout=300,
            env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL='3'))
        output = proc.stdout + proc.stderr
        self.assertEqual(proc.returncode, 2, output[-3000:])
        self.assertNotIn('Traceback', output)
        lines = [l for l in output.splitlines() if 'differs from its learner' in l]
        self.assertLen(lines, 1, output[-3000:])
        for field in fields:
          self.assertIn(field, lines[0])
        self.assertIn('config.py', lines[0])
      # The same config connects and writes its unrolls.
      proc = subprocess.run(
          [sys.executable, os.path.join(_REPO, 'binaries', 'actor.py'),
           f'--config={config_file}', f'--learner_address=127.0.0.1:{learner.port}',
           '--max_unrolls=2'],
          capture_output=True, text=True, timeout=300,
          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL='3'))
      self.assertEqual(proc.returncode, 0, (proc.stdout + proc.stderr)[-3000:])
    finally:
      learner.close()


if __name__ == '__main__':
  tf.test.main()
