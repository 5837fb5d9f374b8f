"""Local runs keep the unauthenticated Reverb port off every network."""

import os
import re
import signal
import socket
import subprocess
import sys
import time

import pytest
import tensorflow as tf

from impala_tf import config as config_lib
import small_runs  # tests/small_runs.py

# Tier (pytest.ini): starts learner, actor and launcher process trees.
pytestmark = pytest.mark.system

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='3')


def _reachable(port):
  try:
    socket.create_connection(('127.0.0.1', port), timeout=2).close()
    return True
  except OSError:
    return False


class NetworkIsolationTest(tf.test.TestCase):

  def _start(self, *flags):
    tmp = os.path.join(self.get_temp_dir(), str(len(flags)))
    os.makedirs(tmp, exist_ok=True)
    config_path = os.path.join(tmp, 'config.py')
    config_lib.write_config_file(small_runs.cartpole(
        reward_clipping='abs_one', total_environment_frames=10_000_000, log_every_seconds=1.0),
        config_path)
    logdir = os.path.join(tmp, 'run')
    proc = subprocess.Popen(
        [sys.executable, os.path.join(_REPO, 'binaries', 'train_local.py'),
         f'--config={config_path}', f'--logdir={logdir}', *flags],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=_ENV)
    self.addCleanup(self._stop, proc)
    port = None
    for line in proc.stdout:
      match = re.search(r'learner on port (\d+)', line)
      if match:
        port = int(match.group(1))
        break
    self.assertIsNotNone(port)
    # Wait until the learner is training, so its server is certainly up.
    deadline = time.time() + 180
    while time.time() < deadline and not os.path.exists(os.path.join(logdir, 'status.json')):
      time.sleep(0.5)
    self.assertTrue(os.path.exists(os.path.join(logdir, 'status.json')))
    return proc, port

  @staticmethod
  def _stop(proc):
    proc.send_signal(signal.SIGINT)  # the launcher stops its children
    try:
      proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
      proc.kill()
      proc.wait()

  def test_isolated_run_is_unreachable_from_outside(self):
    proc, port = self._start()
    self.assertIsNone(proc.poll())
    self.assertFalse(_reachable(port))

  def test_control_unisolated_run_is_reachable(self):
    # Shows the check above can see a listening port: exposure is possible,
    # but only when asked for.
    proc, port = self._start('--isolate_network=false')
    self.assertIsNone(proc.poll())
    self.assertTrue(_reachable(port))


if __name__ == '__main__':
  tf.test.main()
