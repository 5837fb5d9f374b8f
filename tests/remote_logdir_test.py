"""A run whose logdir is not a local path: TensorFlow's in-memory ram://.

Everything a run writes and reads goes through tf.io.gfile, so a gs://
logdir works on a cluster. Here the learner trains CartPole into a ram://
logdir in this process, with a real actor and Reverb server; then the run is
resumed, exported from its checkpoint, evaluated and plotted from there. The
test runs in an empty working directory and checks it stays empty: a local
file call given 'ram://...' would create a 'ram:' directory there instead of
failing.
"""

import json
import os
import tempfile
import threading
import uuid

import tensorflow as tf

from impala_tf import actor as actor_lib
from impala_tf import config as config_lib
from impala_tf import curves
from impala_tf import evaluation
from impala_tf import export
from impala_tf import learner as learner_lib
from impala_tf.pbt import population as population_lib


def _config():
  return config_lib.ImpalaConfig(
      env_id='CartPole-v1', torso='mlp', action_repeat=1, unroll_length=10, envs_per_actor=4,
      batch_size=8, num_actors=1, queue_capacity=4, summary_every_steps=1,
      log_every_seconds=0.5, reward_clipping='none', total_environment_frames=10_000_000)


class RemoteLogdirTest(tf.test.TestCase):

  def setUp(self):
    super().setUp()
    self._cwd = os.getcwd()
    self._workdir = tempfile.mkdtemp(dir=self.get_temp_dir())
    os.chdir(self._workdir)

  def tearDown(self):
    os.chdir(self._cwd)
    super().tearDown()

  def _train(self, config, logdir, steps):
    learner = learner_lib.Learner(config, logdir)
    stop = threading.Event()
    actor = actor_lib.Actor(config, f'127.0.0.1:{learner.port}', task=0)
    thread = threading.Thread(target=actor.run, kwargs={'stop': stop}, daemon=True)
    thread.start()
    try:
      return learner.run(max_steps=steps)
    finally:
      stop.set()
      learner.close()
      thread.join(timeout=30)

  def test_train_resume_export_evaluate_plot(self):
    logdir = f'ram://run_{uuid.uuid4().hex}'
    config = _config()
    status = self._train(config, logdir, steps=30)
    self.assertEqual(status['learner_steps'], 30)

    # What the run left in its logdir, read back through tf.io.gfile.
    self.assertTrue(tf.train.latest_checkpoint(f'{logdir}/checkpoints'))
    with tf.io.gfile.GFile(f'{logdir}/status.json') as f:
      self.assertEqual(json.loads(f.read())['learner_steps'], 30)
    self.assertEqual(config_lib.load_config_file(f'{logdir}/config.py'), config)
    frames, _, values = curves.read_scalar(logdir, 'loss/total')
    self.assertNotEmpty(values)
    self.assertEqual(frames[-1], 30 * 8 * 10)
    for name in ('greedy', 'sampling'):
      self.assertTrue(tf.io.gfile.exists(f'{logdir}/saved_model/{name}/saved_model.pb'))
    self.assertCountEqual([n.rstrip('/') for n in tf.io.gfile.listdir(f'{logdir}/saved_model')],
                          ['greedy', 'sampling'])

    # Resumed from the ram:// checkpoint: 5 steps more.
    status = self._train(config, logdir, steps=5)
    self.assertEqual(status['learner_steps'], 35)

    # Exported again from the checkpoint, and evaluated from ram://.
    out = f'{logdir}/export_again'
    export.export_from_checkpoint(logdir, out)
    preprocessing = export.read_preprocessing(f'{out}/greedy')
    self.assertEqual(preprocessing['train_step'], 35)
    result = evaluation.evaluate(f'{out}/greedy', episodes=2, seed=0)
    self.assertEqual(result['episodes'], 2)
    self.assertEqual(result['train_step'], 35)
    self.assertGreater(result['return_min'], 0)

    # A curve plotted from the ram:// run to a ram:// file.
    plot = curves.plot_runs([logdir], f'{logdir}/curve.png')
    self.assertTrue(tf.io.gfile.exists(plot))

    self.assertEqual(os.listdir(self._workdir), [])

  def test_population_directory(self):
    directory = f'ram://population_{uuid.uuid4().hex}'
    population = population_lib.Population(directory)
    population.write_state(0, {'frames': 100, 'fitness': 1.5})
    population.write_size(1)
    population.append_lineage(0, {'member': 0, 'frames': 100, 'after': {}})
    self.assertEqual(population.read_state(0)['fitness'], 1.5)
    self.assertEqual((population.members(), population.size()), ([0], 1))
    self.assertLen(population.lineage(), 1)
    self.assertEqual(os.listdir(self._workdir), [])


if __name__ == '__main__':
  tf.test.main()
