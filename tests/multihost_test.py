"""Learner and actors on separate (virtual) hosts: network namespaces joined
by veth pairs, with addresses that exist only inside those namespaces."""

import os
import re
import signal
import subprocess
import sys
import time
import uuid

import portpicker
import pytest
import tensorflow as tf

from impala_tf import config as config_lib
import small_runs  # tests/small_runs.py

# Tier (pytest.ini): starts learner, actor and launcher process trees.
pytestmark = pytest.mark.system

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='3')


def _ip(*args):
  return subprocess.run(['ip', *args], capture_output=True, text=True)


class VirtualHosts:
  """A learner host and two actor hosts, each link a /30 on its own veth pair."""

  def __init__(self):
    tag = uuid.uuid4().hex[:6]
    self.learner_ns = f'itf-l-{tag}'
    self.actor_ns = [f'itf-a{i}-{tag}' for i in range(2)]
    self.created = []
    result = _ip('netns', 'add', self.learner_ns)
    if result.returncode:
      raise OSError(result.stderr.strip())
    self.created.append(self.learner_ns)
    self.learner_addresses = []
    for i, ns in enumerate(self.actor_ns):
      self._check(_ip('netns', 'add', ns))
      self.created.append(ns)
      near, far = f'itfl{i}{tag}', f'itfa{i}{tag}'
      self._check(_ip('link', 'add', near, 'type', 'veth', 'peer', 'name', far))
      self._check(_ip('link', 'set', near, 'netns', self.learner_ns))
      self._check(_ip('link', 'set', far, 'netns', ns))
      learner_addr, actor_addr = f'10.231.{i}.1', f'10.231.{i}.2'
      self._exec(self.learner_ns, 'addr', 'add', f'{learner_addr}/30', 'dev', near)
      self._exec(ns, 'addr', 'add', f'{actor_addr}/30', 'dev', far)
      self._exec(self.learner_ns, 'link', 'set', near, 'up')
      self._exec(ns, 'link', 'set', far, 'up')
      self._exec(ns, 'link', 'set', 'lo', 'up')
      self.learner_addresses.append(learner_addr)
    self._exec(self.learner_ns, 'link', 'set', 'lo', 'up')

  @staticmethod
  def _check(result):
    if result.returncode:
      raise OSError(result.stderr.strip())

  def _exec(self, ns, *args):
    self._check(_ip('netns', 'exec', ns, 'ip', *args))

  def popen(self, ns, argv, log_path):
    log = open(log_path, 'wb')
    return subprocess.Popen(['ip', 'netns', 'exec', ns, sys.executable, *argv], stdout=log,
                            stderr=subprocess.STDOUT, env=_ENV)

  def close(self):
    for ns in self.created:
      _ip('netns', 'del', ns)  # deleting a namespace removes its veth ends


class MultiHostTest(tf.test.TestCase):

  def setUp(self):
    super().setUp()
    if os.geteuid() != 0:
      self.skipTest('network namespaces need root (ip netns add); not root here')
    try:
      self.hosts = VirtualHosts()
    except OSError as e:
      self.skipTest(f'cannot create network namespaces here: {e}')
    self.addCleanup(self.hosts.close)

  def test_training_across_virtual_hosts(self):
    tmp = self.get_temp_dir()
    config_path = os.path.join(tmp, 'config.py')
    config_lib.write_config_file(small_runs.cartpole(
        num_actors=2, queue_capacity=2, log_every_seconds=0.5), config_path)
    port = portpicker.pick_unused_port()
    logdir = os.path.join(tmp, 'run')
    learner = self.hosts.popen(
        self.hosts.learner_ns,
        [os.path.join(_REPO, 'binaries', 'learner.py'), f'--config={config_path}',
         f'--logdir={logdir}', f'--port={port}'],
        os.path.join(tmp, 'learner.log'))
    actors = []
    for i, ns in enumerate(self.hosts.actor_ns):
      actors.append(self.hosts.popen(
          ns, [os.path.join(_REPO, 'binaries', 'actor.py'), f'--config={config_path}',
               f'--learner_address={self.hosts.learner_addresses[i]}:{port}', f'--task={i}'],
          os.path.join(tmp, f'actor_{i}.log')))

    def read(name):
      with open(os.path.join(tmp, name), errors='replace') as f:
        return f.read()

    def versions(i):
      return [int(v) for v in re.findall(r'weights v(\d+)', read(f'actor_{i}.log'))] or [0]

    try:
      # Unrolls cross the veth links to the learner, which trains on them;
      # weights cross back: both actors act with published updates.
      deadline = time.time() + 300
      while min(max(versions(i)) for i in range(2)) < 20 and time.time() < deadline:
        self.assertIsNone(learner.poll(), read('learner.log')[-3000:])
        time.sleep(0.5)
      for i in range(2):
        self.assertGreaterEqual(max(versions(i)), 20, read(f'actor_{i}.log')[-2000:])
      learner.send_signal(signal.SIGTERM)
      code = learner.wait(timeout=120)
    finally:
      for a in actors:
        a.kill()
        a.wait()
      if learner.poll() is None:
        learner.kill()
    self.assertEqual(code, 0, read('learner.log')[-3000:])
    import json  # pylint: disable=g-import-not-at-top
    with open(os.path.join(logdir, 'status.json')) as f:
      self.assertGreaterEqual(json.load(f)['learner_steps'], 20)


if __name__ == '__main__':
  tf.test.main()
