"""Faults a long run meets, against the real learner and actor processes."""

import json
import os
import re
import signal
import subprocess
import sys
import time

import portpicker
import psutil
import pytest
import reverb
import tensorflow as tf

from impala_tf import config as config_lib
from impala_tf import weights as weights_lib
import small_runs  # tests/small_runs.py

# Tier (pytest.ini): starts learner, actor and launcher process trees.
pytestmark = pytest.mark.system

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_BIN = os.path.join(_REPO, 'binaries')
_ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='3')


def _versions(log):
  return [int(v) for v in re.findall(r'weights v(\d+)', log)] or [0]


class Cluster:
  """Learner and actor processes on 127.0.0.1, logs in files."""

  def __init__(self, tmp, **config_overrides):
    config = small_runs.cartpole(**dict(
        dict(num_actors=2, queue_capacity=2, log_every_seconds=0.5,
             checkpoint_every_seconds=1.0), **config_overrides))
    self.config_path = os.path.join(tmp, 'config.py')
    config_lib.write_config_file(config, self.config_path)
    self.logdir = os.path.join(tmp, 'run')
    self.tmp = tmp
    self.port = portpicker.pick_unused_port()
    self.procs = []

  def _spawn(self, argv, log_name):
    log = open(os.path.join(self.tmp, log_name), 'ab')
    proc = subprocess.Popen([sys.executable, *argv], stdout=log, stderr=subprocess.STDOUT,
                            env=_ENV)
    proc.log_name = log_name
    self.procs.append(proc)
    return proc

  def learner(self, *flags, log='learner.log'):
    return self._spawn([os.path.join(_BIN, 'learner.py'), f'--config={self.config_path}',
                        f'--logdir={self.logdir}', f'--port={self.port}', *flags], log)

  def actor(self, task, *flags):
    return self._spawn([os.path.join(_BIN, 'actor.py'), f'--config={self.config_path}',
                        f'--learner_address=127.0.0.1:{self.port}', f'--task={task}', *flags],
                       f'actor_{task}.log')

  def log(self, name):
    with open(os.path.join(self.tmp, name), errors='replace') as f:
      return f.read()

  def status(self):
    try:
      with open(os.path.join(self.logdir, 'status.json')) as f:
        return json.load(f)
    except (OSError, ValueError):
      return {}

  def wait_for(self, predicate, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
      if predicate():
        return
      time.sleep(0.5)
    raise AssertionError(f'timed out waiting for {what}; learner log:\n'
                         + self.log('learner.log')[-3000:])

  def actors(self):
    return [p for p in self.procs if p.log_name.startswith('actor_') and p.poll() is None]

  def freeze_actors_and_read_version(self):
    """Stops every actor (SIGSTOP), then returns the newest weights version
    the learner has published: no actor can hold a newer one, since none
    can fetch any more. Exact, unlike the status file or the actors' log
    lines, which are written every log_every_seconds."""
    for p in self.actors():
      p.send_signal(signal.SIGSTOP)
    client = reverb.Client(f'127.0.0.1:{self.port}')
    newest = next(client.sample(weights_lib.VERSION_TABLE, num_samples=1,
                                emit_timesteps=False, unpack_as_table_signature=True))
    return int(newest.data['version'])

  def thaw_actors(self):
    for p in self.actors():
      p.send_signal(signal.SIGCONT)

  def close(self):
    for p in self.procs:
      if p.poll() is None:
        p.send_signal(signal.SIGCONT)
        p.kill()
      p.wait()


class FaultsTest(tf.test.TestCase):

  def setUp(self):
    super().setUp()
    self.cluster = Cluster(self.get_temp_dir())
    self.addCleanup(self.cluster.close)

  def test_actor_waits_for_an_unreachable_learner(self):
    c = self.cluster
    c.actor(0)
    c.wait_for(lambda: 'waiting for the learner at 127.0.0.1' in c.log('actor_0.log'), 120,
               'the actor to say it is waiting')
    learner = c.learner()
    c.wait_for(lambda: max(_versions(c.log('actor_0.log'))) > 0, 180,
               'the actor to act with weights the learner trained')
    self.assertIn('is reachable', c.log('actor_0.log'))
    learner.send_signal(signal.SIGTERM)
    self.assertEqual(learner.wait(timeout=120), 0, c.log('learner.log')[-3000:])
    self.assertGreater(c.status()['learner_steps'], 0)

  def test_actor_killed_mid_unroll_then_rejoins(self):
    c = self.cluster
    learner = c.learner()
    first = [c.actor(0), c.actor(1)]
    c.wait_for(lambda: c.status().get('learner_steps', 0) >= 5, 180, 'first steps')
    first[0].send_signal(signal.SIGKILL)
    first[0].wait()
    steps_at_kill = c.status()['learner_steps']
    # The learner keeps training on the surviving actor.
    c.wait_for(lambda: c.status().get('learner_steps', 0) >= steps_at_kill + 20, 120,
               'training to go on after the kill')
    # A restarted actor rejoins and acts with weights published after the kill.
    log_start = len(c.log('actor_0.log'))
    c.actor(0)
    c.wait_for(lambda: max(_versions(c.log('actor_0.log')[log_start:])) > steps_at_kill, 120,
               'the restarted actor to act with new weights')
    learner.send_signal(signal.SIGTERM)
    self.assertEqual(learner.wait(timeout=120), 0, c.log('learner.log')[-3000:])
    self.assertGreater(c.status()['learner_steps'], steps_at_kill + 20)

  def test_learner_killed_resumes_and_actors_reconnect(self):
    c = self.cluster
    learner = c.learner()
    actors = [c.actor(0), c.actor(1)]
    ckpt_dir = os.path.join(c.logdir, 'checkpoints')
    c.wait_for(lambda: tf.train.latest_checkpoint(ckpt_dir) is not None
               and c.status().get('learner_steps', 0) >= 10, 180, 'a checkpoint')
    old_max = c.freeze_actors_and_read_version()
    learner.send_signal(signal.SIGKILL)
    learner.wait()
    saved_step = int(tf.train.latest_checkpoint(ckpt_dir).rsplit('-', 1)[-1])
    log_start = [len(c.log(f'actor_{i}.log')) for i in range(2)]
    c.thaw_actors()
    restarted = c.learner(log='learner_2.log')
    # The actors act with weights only the restarted learner can have
    # published: they reconnected by themselves, without being restarted.
    c.wait_for(lambda: min(max(_versions(c.log(f'actor_{i}.log')[log_start[i]:]))
                           for i in range(2)) > old_max, 180,
               'both actors to use the restarted learner\'s weights')
    for a in actors:
      self.assertIsNone(a.poll())
    restarted.send_signal(signal.SIGTERM)
    self.assertEqual(restarted.wait(timeout=120), 0, c.log('learner_2.log')[-3000:])
    self.assertIn('Restored', c.log('learner_2.log'))
    self.assertIn(f'serving on port {c.port}; step {saved_step}, {saved_step * 8 * 5} frames',
                  c.log('learner_2.log'))
    status = c.status()
    # Resumed from the checkpoint: the counters continued exactly.
    self.assertGreater(status['learner_steps'], old_max)
    self.assertEqual(status['env_frames'], status['learner_steps'] * 8 * 5)

  def test_status_and_logs_trail_the_weights_actors_hold(self):
    # What made the test above fail once (learner_steps 25 after the actors
    # had logged versions above 79): it bounded the killed learner's newest
    # weights by its status file and the actors' log lines plus 50 steps.
    # Both are written every log_every_seconds, and a CartPole learner
    # takes more than 50 steps in that time, so an actor could hold (and,
    # once its unroll went through, log) the dead learner's weights above
    # that bound, and the test stopped the restarted learner before it had
    # trained that far. Here nothing is logged before the learner stops (a
    # log interval longer than the run): the weights actors hold run ahead
    # of the status and the logs, and only the version read from the
    # learner while the actors are frozen bounds them.
    c = self.cluster = Cluster(self.get_temp_dir(), log_every_seconds=1000.0)
    self.addCleanup(c.close)
    learner = c.learner()
    c.actor(0)
    c.actor(1)
    ckpt_dir = os.path.join(c.logdir, 'checkpoints')
    c.wait_for(lambda: tf.train.latest_checkpoint(ckpt_dir) is not None
               and int(tf.train.latest_checkpoint(ckpt_dir).rsplit('-', 1)[-1]) >= 60,
               180, 'a checkpoint at step 60')
    published = c.freeze_actors_and_read_version()
    logged = max(c.status().get('learner_steps', 0),
                 *[max(_versions(c.log(f'actor_{i}.log'))) for i in range(2)])
    self.assertGreater(published, logged + 50)
    c.thaw_actors()
    learner.send_signal(signal.SIGTERM)
    self.assertEqual(learner.wait(timeout=120), 0, c.log('learner.log')[-3000:])
    # Its final status is exact: every published version, and the last steps.
    self.assertGreaterEqual(c.status()['learner_steps'], published)


class LauncherKilledTest(tf.test.TestCase):

  def test_children_die_with_the_launcher(self):
    tmp = self.get_temp_dir()
    config_path = os.path.join(tmp, 'config.py')
    config_lib.write_config_file(small_runs.cartpole(
        num_actors=2, reward_clipping='abs_one', log_every_seconds=0.5), config_path)
    launcher = subprocess.Popen(
        [sys.executable, os.path.join(_BIN, 'train_local.py'), f'--config={config_path}',
         f'--logdir={os.path.join(tmp, "run")}'],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=_ENV)
    self.addCleanup(lambda: launcher.poll() is None and launcher.kill())
    root = psutil.Process(launcher.pid)
    deadline = time.time() + 120
    children = []
    while time.time() < deadline and len(children) < 3:
      children = [p for p in root.children(recursive=True)
                  if any(b in ' '.join(p.cmdline()) for b in ('learner.py', 'actor.py'))]
      time.sleep(0.5)
    self.assertLen(children, 3)  # learner + 2 actors
    launcher.kill()  # SIGKILL: no chance to clean up
    launcher.wait()
    _, alive = psutil.wait_procs(children, timeout=30)
    self.assertEmpty(alive, f'orphaned: {[p.cmdline() for p in alive]}')


if __name__ == '__main__':
  tf.test.main()
