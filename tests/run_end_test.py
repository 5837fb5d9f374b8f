"""Runs end as a whole: real learner and actor processes on 127.0.0.1.

On a cluster an actor that never exits holds its Job and its machine, so
actors end by themselves: 0 once the learner has finished the run, non-zero
(with one line) once no learner has answered for
`actor_learner_timeout_seconds`.
"""

import os
import subprocess
import sys
import time

import portpicker
import pytest
import tensorflow as tf

from impala_tf import config as config_lib
import small_runs  # tests/small_runs.py

# Tier (pytest.ini): starts learner, actor and launcher process trees.
pytestmark = pytest.mark.system

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_BIN = os.path.join(_REPO, 'binaries')
_ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='3')


def _config(**kwargs):
  return small_runs.cartpole(**dict(
      dict(num_actors=2, queue_capacity=2, log_every_seconds=1.0,
           total_environment_frames=20_000), **kwargs))


def _actor(config_path, port, task, log_path):
  with open(log_path, 'w') as log:
    return subprocess.Popen(
        [sys.executable, os.path.join(_BIN, 'actor.py'), f'--config={config_path}',
         f'--learner_address=127.0.0.1:{port}', f'--task={task}'],
        stdout=log, stderr=subprocess.STDOUT, text=True, env=_ENV)


def _read(path):
  with open(path) as f:
    return f.read()


class RunEndTest(tf.test.TestCase):

  def test_actors_started_first_wait_then_exit_0_when_the_learner_finishes(self):
    tmp = self.get_temp_dir()
    config_path = os.path.join(tmp, 'run_end.py')
    config_lib.write_config_file(_config(), config_path)
    port = portpicker.pick_unused_port()
    log_paths = [os.path.join(tmp, f'actor_{task}.log') for task in range(2)]
    actors = [_actor(config_path, port, task, log_paths[task]) for task in range(2)]
    # The learner starts once both actors are up and waiting for it.
    deadline = time.time() + 300
    while not all('waiting for the learner' in _read(p) for p in log_paths):
      self.assertLess(time.time(), deadline, [_read(p)[-2000:] for p in log_paths])
      self.assertTrue(all(a.poll() is None for a in actors))
      time.sleep(0.5)
    learner = subprocess.Popen(
        [sys.executable, os.path.join(_BIN, 'learner.py'), f'--config={config_path}',
         f'--logdir={os.path.join(tmp, "run")}', f'--port={port}'],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=_ENV)
    try:
      learner_log = learner.communicate(timeout=300)[0]
      self.assertEqual(learner.returncode, 0, learner_log[-3000:])
      self.assertIn('run finished; 2 of 2 actors told', learner_log)
      # Nobody stops the actors: they end by themselves, with status 0.
      deadline = time.time() + 60
      for actor in actors:
        actor.wait(timeout=max(1.0, deadline - time.time()))
    finally:
      for p in [learner] + actors:
        p.kill()
    for actor, path in zip(actors, log_paths):
      log = _read(path)
      self.assertEqual(actor.returncode, 0, log[-3000:])
      self.assertIn('the learner has finished the run', log)

  def test_actor_without_a_learner_gives_up_with_one_line(self):
    tmp = self.get_temp_dir()
    config_path = os.path.join(tmp, 'no_learner.py')
    config_lib.write_config_file(_config(actor_learner_timeout_seconds=4.0), config_path)
    log_path = os.path.join(tmp, 'actor.log')
    actor = _actor(config_path, portpicker.pick_unused_port(), 0, log_path)
    try:
      actor.wait(timeout=120)
    finally:
      actor.kill()
    log = _read(log_path)
    self.assertEqual(actor.returncode, 3, log[-3000:])
    errors = [line for line in log.splitlines() if line.startswith('E')]
    self.assertLen(errors, 1, log[-3000:])
    self.assertIn('no learner at 127.0.0.1', errors[0])
    self.assertIn('actor_learner_timeout_seconds', errors[0])
    self.assertNotIn('Traceback', log)


if __name__ == '__main__':
  tf.test.main()
