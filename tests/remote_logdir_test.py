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
import uuid

import tensorflow as tf

from impala_tf import config as config_lib
from impala_tf import curves
from impala_tf import evaluation
from impala_tf import export
from impala_tf.pbt import population as population_lib
import small_runs  # tests/small_runs.py


def _config():
  return small_runs.cartpole(unroll_length=10, queue_capacity=4, summary_every_steps=1,
                             log_every_seconds=0.5, total_environment_frames=10_000_000)


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
    return small_runs.train_in_process(config, logdir, steps)[1]

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
    result = evaluation.evaluate(f'{out}/greedy', episodes=4, seed=0)
    self.assertEqual(result['episodes'], 4)
    self.assertEqual(result['train_step'], 35)
    # The same checkpoint exported to a local directory and evaluated with
    # the same seed plays the same episodes: the export written to and read
    # back from ram:// carries the checkpoint's weights and statistics (an
    # export that lost any of them would act otherwise).
    local = os.path.join(self.get_temp_dir(), 'export_local')
    export.export_from_checkpoint(logdir, local)
    expected = evaluation.evaluate(f'{local}/greedy', episodes=4, seed=0)
    for key in ('return_mean', 'return_min', 'return_max', 'length_mean'):
      self.assertEqual(result[key], expected[key], key)
    # CartPole pays 1 a step: an episode's return is its length.
    self.assertEqual(result['return_mean'], result['length_mean'])

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
