"""A rendered cloud run, started as local processes in a private network.

For each platform a CartPole run is rendered with launch_cloud's library
(the same objects `binaries/launch_cloud.py` writes), and every pod or
replica it describes is started as a local process, with the command line,
arguments and environment of its manifest and what the platform adds:
- GKE: JOB_COMPLETION_INDEX in each actor pod of the Indexed Job; the
  Service's name resolving to the learner (an /etc/hosts entry for
  127.0.0.1, bind-mounted in the namespace); the ConfigMap mounted (its
  files written to a directory that stands in for the mount path);
- Vertex AI: a CLUSTER_SPEC with loopback addresses for each replica.
All processes run inside one private network namespace (`unshare`), so
nothing listens outside it. The run must train to its frame budget and
every process must exit 0 by itself; its two actors run as one pod (or
replica), packed as the render says. Then the ends of a run: an actor pod
started after the learner finished must exit 0 (it reads the run's end in
the logdir), and a learner that never gets data must exit with its
timeout line and status 4.

The image's `python` is this test's interpreter; the run directory is a
file:// URL standing in for the gs:// bucket every pod shares.
"""

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile

import pytest
import tensorflow as tf

from impala_tf import config as config_lib
from impala_tf import exit_codes
from impala_tf.cloud import gke
from impala_tf.cloud import launch
from impala_tf.cloud import vertex
import small_runs  # tests/small_runs.py

# Tier (pytest.ini): starts learner, actor and launcher process trees.
pytestmark = pytest.mark.system

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_ACTORS = 2
_FRAMES = 20_000
_TIMEOUT = 600


def _config():
  config = config_lib.load_config_file(os.path.join(_REPO, 'configs', 'cartpole.py'))
  return dataclasses.replace(config, total_environment_frames=_FRAMES, log_every_seconds=2.0)


def _argv(command, args):
  assert command[0] == 'python', command
  return [sys.executable, *command[1:], *args]


def _env(manifest_env, **platform):
  env = {k: v for k, v in os.environ.items()
         if k not in ('CLUSTER_SPEC', 'TF_CONFIG', 'IMPALA_TF_ROLE', 'JOB_COMPLETION_INDEX')}
  env.update({e['name']: e['value'] for e in manifest_env}, TF_CPP_MIN_LOG_LEVEL='3',
             **platform)
  return env


def _tails(logs):
  return {name: text[-3000:] for name, text in logs.items()}


class FakeClusterTest(tf.test.TestCase):

  def setUp(self):
    super().setUp()
    self._tmp = tempfile.mkdtemp(dir=self.get_temp_dir())
    self._logdir = f'file://{self._tmp}/run'

  def _options(self, name, **changes):
    return launch.LaunchOptions(name=name, image='impala-tf:test', actors=_ACTORS,
                                logdir=self._logdir, **changes)

  def _run(self, pods, hosts=()):
    """Runs `pods` in a private network namespace; returns {name: status}."""
    for pod in pods:
      pod['log'] = os.path.join(self._tmp, f'{pod["name"]}.log')
    pods_path = os.path.join(self._tmp, 'pods.json')
    with open(pods_path, 'w') as f:
      json.dump(pods, f)
    hosts_path = os.path.join(self._tmp, 'hosts')
    with open(hosts_path, 'w') as f:
      f.write('127.0.0.1 localhost\n' + ''.join(f'127.0.0.1 {h}\n' for h in hosts))
    runner = os.path.join(_REPO, 'tests', 'fake_cluster_pods.py')
    result = subprocess.run(
        [shutil.which('unshare'), '--net', '--mount', '--map-root-user', '--', 'sh', '-c',
         f'ip link set lo up && mount --bind "{hosts_path}" /etc/hosts && '
         f'exec "{sys.executable}" "{runner}" "{pods_path}" {_TIMEOUT}'],
        capture_output=True, text=True, timeout=_TIMEOUT + 60)
    logs = {}
    for pod in pods:
      with open(pod['log']) as f:
        logs[pod['name']] = f.read()
    self.assertEqual(result.returncode, 0, (result.stderr, _tails(logs)))
    return small_runs.final_json(result.stdout), logs

  def _assert_trained_to_budget(self, ended, logs):
    self.assertEqual(ended, {name: 0 for name in ended}, _tails(logs))
    with tf.io.gfile.GFile(f'{self._logdir}/status.json') as f:
      status = json.loads(f.read())
    self.assertTrue(status['done'])
    self.assertGreaterEqual(status['env_frames'], _FRAMES)
    self.assertTrue(tf.train.latest_checkpoint(f'{self._logdir}/checkpoints'))

  def _gke(self, options):
    """The rendered run's Service, its two Job specs, and a function making
    a pod's process from a Job's template (name, template, **platform env).
    The ConfigMap is "mounted": its files in a directory standing in for the
    mount path, which the arguments name."""
    config = launch.run_config(_config(), options)
    config_map, service, _, jobset = gke.objects(options, config_lib.config_file_text(config))
    learner_job, actors_job = (rj['template']['spec'] for rj in jobset['spec']['replicatedJobs'])
    mount = os.path.join(self._tmp, 'configmap')
    os.makedirs(mount)
    for name, text in config_map['data'].items():
      with open(os.path.join(mount, name), 'w') as f:
        f.write(text)

    def pod(name, template, **platform):
      (container,) = template['spec']['containers']
      (volume_mount,) = container['volumeMounts']
      args = [a.replace(volume_mount['mountPath'], mount) for a in container['args']]
      return {'name': name, 'argv': _argv(container['command'], args),
              'env': _env(container['env'], **platform)}

    return service, learner_job, actors_job, pod

  def test_gke(self):
    options = self._options('fake-gke')
    service, learner_job, actors_job, pod = self._gke(options)
    learner = pod('learner', learner_job['template'])
    actor_pods = [pod(f'actors_{i}', actors_job['template'], JOB_COMPLETION_INDEX=str(i))
                  for i in range(actors_job['completions'])]
    # Both actors in one pod: the entrypoint runs two actor processes.
    self.assertLen(actor_pods, 1)
    ended, logs = self._run([learner, *actor_pods], hosts=[service['metadata']['name']])
    self._assert_trained_to_budget(ended, logs)
    self.assertIn('actors 0-1 (container 0), learner at fake-gke-learner:8000', logs['actors_0'])
    for task in range(_ACTORS):
      self.assertIn(f'--task={task}', logs['actors_0'])

    # A late actor pod (restarted, or scheduled after the end): no learner
    # answers, the logdir says the run finished, it exits 0 at once.
    late = dict(actor_pods[0], name='late_actors')
    ended, logs = self._run([late], hosts=[service['metadata']['name']])
    self.assertEqual(ended, {'late_actors': 0}, _tails(logs))
    self.assertIn('has finished', logs['late_actors'])

  def test_gke_learner_without_data_gives_up(self):
    # No actor ever writes: after learner_data_timeout the learner keeps a
    # checkpoint, says why in one line and exits 4 (which the pod failure
    # policy turns into a failed run, not a restart).
    options = self._options('fake-starved', learner_data_timeout=15)
    service, learner_job, _, pod = self._gke(options)
    learner = pod('learner', learner_job['template'])
    ended, logs = self._run([learner], hosts=[service['metadata']['name']])
    self.assertEqual(ended, {'learner': exit_codes.NO_DATA}, _tails(logs))
    self.assertIn(exit_codes.NO_DATA, learner_job['podFailurePolicy']['rules'][1]['onExitCodes']
                  ['values'])
    lines = [l for l in logs['learner'].splitlines() if 'learner_data_timeout_seconds=15' in l]
    self.assertLen(lines, 1, logs['learner'][-3000:])
    self.assertIn('no data from any actor', lines[0])
    self.assertNotIn('Traceback', logs['learner'])
    with tf.io.gfile.GFile(f'{self._logdir}/status.json') as f:
      status = json.loads(f.read())
    self.assertIn('no data from any actor', status['stopped'])
    self.assertFalse(status['finished'])
    self.assertTrue(tf.train.latest_checkpoint(f'{self._logdir}/checkpoints'))

  def test_vertex(self):
    options = self._options('fake-vertex')
    config = launch.run_config(_config(), options)
    job = vertex.custom_job(options, config_lib.config_file_text(config))
    pools = job['jobSpec']['workerPoolSpecs']
    cluster = {f'workerpool{p}': [f'127.0.0.1:{2222 + 10 * p + i}'
                                  for i in range(pools[p]['replicaCount'])]
               for p in range(len(pools))}
    pods = []
    for p, pool in enumerate(pools):
      container = pool['containerSpec']
      for i in range(pool['replicaCount']):
        spec = {'cluster': cluster, 'environment': 'cloud',
                'task': {'type': f'workerpool{p}', 'index': i}}
        pods.append({'name': 'learner' if p == 0 else f'actor_{i}',
                     'argv': _argv(container['command'], container['args']),
                     'env': _env(container['env'], CLUSTER_SPEC=json.dumps(spec))})
    self.assertLen(pods, 2)   # the learner, and one replica running both actors
    ended, logs = self._run(pods)
    self._assert_trained_to_budget(ended, logs)
    self.assertIn('learner on port 2222', logs['learner'])
    self.assertIn('actors 0-1 (container 0)', logs['actor_0'])


if __name__ == '__main__':
  tf.test.main()
