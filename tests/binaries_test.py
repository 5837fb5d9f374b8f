"""End-to-end runs of the real binaries (learner, actors, local launcher)."""

import json
import os
import re
import subprocess
import sys

import portpicker
import pytest
import tensorflow as tf

from impala_tf import config as config_lib
import small_runs  # tests/small_runs.py

_REPO = small_runs.REPO
_BIN = small_runs.BINARIES
_ENV = small_runs.ENV


def _small_cartpole(**kwargs):
  return small_runs.cartpole(**dict(
      dict(num_actors=2, queue_capacity=2, log_every_seconds=1.0, checkpoint_every_seconds=2.0,
           summary_every_steps=2), **kwargs))


_final_json = small_runs.final_json


class LearnerAndActorsTest(tf.test.TestCase):

  @pytest.mark.system
  def test_learner_with_two_actor_processes(self):
    tmp = self.get_temp_dir()
    config_path = os.path.join(tmp, 'config.py')
    config_lib.write_config_file(_small_cartpole(), config_path)
    logdir = os.path.join(tmp, 'run')
    port = portpicker.pick_unused_port()
    # 15 steps × 2 items a batch = 30 unrolls = 15 per actor: the learner
    # can only finish by draining everything the actors write, and the
    # queue plus the input pipeline hold fewer than 30, so later unrolls
    # must have been acted with published weights.
    learner = subprocess.Popen(
        [sys.executable, os.path.join(_BIN, 'learner.py'), f'--config={config_path}',
         f'--logdir={logdir}', f'--port={port}', '--max_steps=15'],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=_ENV)
    actors = [subprocess.Popen(
        [sys.executable, os.path.join(_BIN, 'actor.py'), f'--config={config_path}',
         f'--learner_address=127.0.0.1:{port}', f'--task={task}', '--max_unrolls=15'],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=_ENV)
              for task in range(2)]
    try:
      actor_logs = [a.communicate(timeout=240)[0] for a in actors]
      learner_log = learner.communicate(timeout=120)[0]
    finally:
      for p in [learner] + actors:
        p.kill()
    self.assertEqual(learner.returncode, 0, learner_log[-3000:])
    for actor, log in zip(actors, actor_logs):
      self.assertEqual(actor.returncode, 0, log[-3000:])
      match = re.search(r'stopped after (\d+) unrolls, (\d+) frames, weights version (\d+)',
                        log)
      self.assertIsNotNone(match, log[-3000:])
      self.assertEqual(int(match.group(1)), 15)
      self.assertEqual(int(match.group(2)), 15 * 5 * 4)
      # Weights published by the learner reached the actor.
      self.assertGreater(int(match.group(3)), 0)
    with open(os.path.join(logdir, 'status.json')) as f:
      status = json.load(f)
    self.assertEqual(status['learner_steps'], 15)
    self.assertEqual(status['env_frames'], 15 * 8 * 5)
    self.assertEqual(status['queue_size'], 0)
    self.assertTrue(tf.train.latest_checkpoint(os.path.join(logdir, 'checkpoints')))

  def test_bad_config_value_is_a_clear_error(self):
    result = small_runs.run_binary(
        'learner', f'--config={os.path.join(small_runs.CONFIGS, "cartpole.py")}',
        f'--logdir={self.get_temp_dir()}', '--config.discount=1.5', timeout=120, check=False)
    self.assertNotEqual(result.returncode, 0)
    self.assertIn('discount must be in [0.0, 1.0], got 1.5', result.stdout + result.stderr)
    self.assertNotIn('Traceback', result.stdout + result.stderr)


@pytest.mark.system
class TrainLocalTest(tf.test.TestCase):

  def _train_local(self, config_file, logdir, *overrides, timeout=400):
    result = small_runs.run_binary('train_local', f'--config={config_file}',
                                   f'--logdir={logdir}', *overrides, timeout=timeout)
    return result.stdout, _final_json(result.stdout)

  def test_runs_and_resumes(self):
    tmp = self.get_temp_dir()
    config_file = os.path.join(tmp, 'small.py')
    config_lib.write_config_file(_small_cartpole(total_environment_frames=4000), config_file)
    logdir = os.path.join(tmp, 'run')
    stdout, first = self._train_local(config_file, logdir)
    self.assertEqual(first['outcome'], 'completed')
    self.assertGreaterEqual(first['env_frames'], 4000)
    for key in ('wall_seconds', 'frames_per_second', 'episode_return_mean'):
      self.assertIn(key, first)
    self.assertIn('frames ', stdout)  # at least one progress line
    steps_first = first['learner_steps']
    # Resume with a larger budget: counters continue from the checkpoint.
    _, second = self._train_local(config_file, logdir,
                                  '--config.total_environment_frames=8000')
    self.assertGreaterEqual(second['env_frames'], 8000)
    self.assertEqual(second['learner_steps'], second['env_frames'] // 40)
    self.assertGreater(second['learner_steps'], steps_first)
    with open(os.path.join(logdir, 'logs', 'learner.log')) as f:
      self.assertIn('Restored', f.read())


def _run(argv, timeout=600):
  return subprocess.run([sys.executable, *argv], capture_output=True, text=True, env=_ENV,
                        timeout=timeout)


@pytest.mark.learning
class CartPoleEndToEndTest(tf.test.TestCase):
  """One CartPole training run with the preset, then what a user does next."""

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.logdir = os.path.join(tf.compat.v1.test.get_temp_dir(), 'cartpole')
    # The preset on a smaller budget: learning must be visible well within
    # CI time (about a minute on 2 cores).
    cls.train = _run([os.path.join(_BIN, 'train_local.py'),
                      f'--config={os.path.join(_REPO, "configs", "cartpole.py")}',
                      f'--logdir={cls.logdir}', '--config.total_environment_frames=300000'])

  def test_cartpole_learns(self):
    self.assertEqual(self.train.returncode, 0, self.train.stdout[-3000:] + self.train.stderr[-3000:])
    result = _final_json(self.train.stdout)
    self.assertGreaterEqual(result['env_frames'], 300000)
    self.assertGreaterEqual(result['episode_return_mean'], 300.0, result)

  def test_export_then_evaluate(self):
    # The learner exported at the end of training ...
    self.assertTrue(os.path.exists(
        os.path.join(self.logdir, 'saved_model', 'greedy', 'saved_model.pb')))
    # ... and the export binary does it again from the newest checkpoint.
    out = os.path.join(self.get_temp_dir(), 'export')
    exported = _run([os.path.join(_BIN, 'export.py'), f'--logdir={self.logdir}', f'--out={out}'])
    self.assertEqual(exported.returncode, 0, exported.stderr[-3000:])
    video = os.path.join(self.get_temp_dir(), 'episode.gif')
    evaluated = _run([os.path.join(_BIN, 'evaluate.py'),
                      f'--saved_model={os.path.join(out, "greedy")}', '--episodes=20',
                      '--seed=123', f'--video={video}'])
    self.assertEqual(evaluated.returncode, 0, evaluated.stderr[-3000:])
    result = _final_json(evaluated.stdout)
    self.assertEqual(result['episodes'], 20)
    for key in ('return_mean', 'return_std', 'return_median', 'length_mean'):
      self.assertIn(key, result)
    self.assertGreaterEqual(result['return_mean'], 450.0, result)
    self.assertGreater(os.path.getsize(video), 1000)

  def test_plot(self):
    out = os.path.join(self.get_temp_dir(), 'curves.png')
    plotted = _run([os.path.join(_BIN, 'plot.py'), f'--logdir={self.logdir}', f'--out={out}'])
    self.assertEqual(plotted.returncode, 0, plotted.stderr[-3000:])
    with open(out, 'rb') as f:
      self.assertEqual(f.read(8), b'\x89PNG\r\n\x1a\n')

  def test_evaluate_reports_a_missing_saved_model_clearly(self):
    missing = os.path.join(self.get_temp_dir(), 'no_such_export')
    result = _run([os.path.join(_BIN, 'evaluate.py'), f'--saved_model={missing}'], timeout=120)
    self.assertNotEqual(result.returncode, 0)
    self.assertIn('is not a directory', result.stdout + result.stderr)
    self.assertNotIn('Traceback', result.stdout + result.stderr)
    result = _run([os.path.join(_BIN, 'evaluate.py'),
                   f'--saved_model={os.path.join(self.logdir, "saved_model")}'], timeout=120)
    self.assertIn('did you mean', result.stdout + result.stderr)
    self.assertNotIn('Traceback', result.stdout + result.stderr)


@pytest.mark.learning
class CartPoleScalesTest(tf.test.TestCase):
  """Multi-task PopArt: two CartPole tasks whose rewards differ by 1000×."""

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.logdir = os.path.join(tf.compat.v1.test.get_temp_dir(), 'cartpole_scales')
    cls.train = _run([os.path.join(_BIN, 'train_local.py'),
                      f'--config={os.path.join(_REPO, "configs", "cartpole_scales.py")}',
                      f'--logdir={cls.logdir}'], timeout=900)

  def test_both_tasks_learn_with_popart(self):
    self.assertEqual(self.train.returncode, 0, self.train.stdout[-3000:] + self.train.stderr[-3000:])
    result = _final_json(self.train.stdout)
    self.assertGreaterEqual(result['env_frames'], 1_000_000)
    per_task = result['episode_return_mean_per_task']
    self.assertGreaterEqual(per_task['CartPole-v1'], 400.0, result)
    self.assertGreaterEqual(per_task['CartPole-v1_x1000'], 400_000.0, result)
    self.assertIn('CartPole-v1_x1000', self.train.stdout)   # progress lines per task

  def test_the_export_serves_every_task(self):
    evaluated = _run([os.path.join(_BIN, 'evaluate.py'),
                      f'--saved_model={os.path.join(self.logdir, "saved_model", "greedy")}',
                      '--episodes=8'])
    self.assertEqual(evaluated.returncode, 0, evaluated.stderr[-3000:])
    result = _final_json(evaluated.stdout)
    self.assertEqual(sorted(result['per_task']), ['CartPole-v1', 'CartPole-v1_x1000'])
    for name, scale in (('CartPole-v1', 1.0), ('CartPole-v1_x1000', 1000.0)):
      self.assertGreaterEqual(result['per_task'][name]['return_mean'], 400.0 * scale, result)
    one = _run([os.path.join(_BIN, 'evaluate.py'),
                f'--saved_model={os.path.join(self.logdir, "saved_model", "greedy")}',
                '--episodes=2', '--task=CartPole-v1_x1000'])
    self.assertEqual(one.returncode, 0, one.stderr[-3000:])
    self.assertEqual(_final_json(one.stdout)['task'], 'CartPole-v1_x1000')
    bad = _run([os.path.join(_BIN, 'evaluate.py'),
                f'--saved_model={os.path.join(self.logdir, "saved_model", "greedy")}',
                '--task=Pong'], timeout=120)
    self.assertNotEqual(bad.returncode, 0)
    self.assertIn('--task must be', bad.stdout + bad.stderr)


if __name__ == '__main__':
  tf.test.main()
