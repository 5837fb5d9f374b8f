"""Rendered cloud runs: valid objects, wired to each other, from the config.

GKE objects are validated with kubernetes-validate --strict against
Kubernetes 1.30; the Vertex CustomJob against a JSON schema written from the
Vertex AI v1 REST reference (tests/schemas/vertex_custom_job_v1.json: the
official client library does not install beside TF 2.15's protobuf pin).
"""

import dataclasses
import json
import os
import subprocess
import sys
import tempfile

from absl.testing import absltest
from absl.testing import parameterized
import jsonschema
import kubernetes_validate
import yaml

from impala_tf import config as config_lib
from impala_tf.cloud import gke
from impala_tf.cloud import launch
from impala_tf.cloud import vertex

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_KUBERNETES = '1.30'
_IMAGE = 'us-docker.pkg.dev/project/repo/impala-tf:1'
with open(os.path.join(_REPO, 'tests', 'schemas', 'vertex_custom_job_v1.json')) as _f:
  _VERTEX_SCHEMA = json.load(_f)


def _options(**changes):
  base = launch.LaunchOptions(name='pong-1', image=_IMAGE, actors=64,
                              logdir='gs://bucket/runs/pong')
  return dataclasses.replace(base, **changes)


def _render(options, preset='pong.py'):
  config = config_lib.load_config_file(os.path.join(_REPO, 'configs', preset))
  config = launch.run_config(config, options)
  return config, config_lib.config_file_text(config)


def _load_config_text(test, text):
  path = os.path.join(test.enter_context(tempfile.TemporaryDirectory()), 'config.py')
  with open(path, 'w') as f:
    f.write(text)
  return config_lib.load_config_file(path)


def _selects(selector, labels):
  return all(labels.get(k) == v for k, v in selector.items())


_ACCELERATORS = (
    ('cpu', {}, 'default'),
    ('two_l4', {'accelerator': 'nvidia-l4', 'accelerator_count': 2}, 'mirrored'),
    ('tpu_v5e', {'accelerator': 'tpu-v5e', 'tpu_topology': '2x2'}, 'tpu'),
)


class GkeTest(parameterized.TestCase):

  @parameterized.named_parameters(*_ACCELERATORS)
  def test_objects_validate_and_are_wired(self, changes, strategy):
    options = _options(**changes)
    config, text = _render(options)
    objs = gke.objects(options, text)
    for obj in objs:
      kubernetes_validate.validate(obj, _KUBERNETES, strict=True)
    config_map, learner, service, policy, actors = objs
    self.assertEqual([o['kind'] for o in objs],
                     ['ConfigMap', 'Job', 'Service', 'NetworkPolicy', 'Job'])
    learner_pod = learner['spec']['template']
    actor_pod = actors['spec']['template']
    learner_labels = learner_pod['metadata']['labels']
    actor_labels = actor_pod['metadata']['labels']

    # The learner: one pod, restarted in place on failure.
    self.assertEqual((learner['spec']['completions'], learner['spec']['parallelism']), (1, 1))
    self.assertEqual(learner_pod['spec']['restartPolicy'], 'OnFailure')
    # The Service selects the learner and not the actors; its port is the
    # learner container's named port.
    self.assertTrue(_selects(service['spec']['selector'], learner_labels))
    self.assertFalse(_selects(service['spec']['selector'], actor_labels))
    learner_container = learner_pod['spec']['containers'][0]
    self.assertEqual(learner_container['ports'][0]['containerPort'], options.port)
    self.assertEqual(service['spec']['ports'][0]['targetPort'],
                     learner_container['ports'][0]['name'])
    # The NetworkPolicy guards the learner and admits only this run's actors,
    # on the learner's port.
    self.assertTrue(_selects(policy['spec']['podSelector']['matchLabels'], learner_labels))
    self.assertEqual(policy['spec']['policyTypes'], ['Ingress'])
    (rule,) = policy['spec']['ingress']
    (peer,) = rule['from']
    self.assertEqual(set(peer), {'podSelector'})  # no namespaceSelector, no ipBlock
    self.assertTrue(_selects(peer['podSelector']['matchLabels'], actor_labels))
    self.assertFalse(_selects(peer['podSelector']['matchLabels'], learner_labels))
    other_run = dict(actor_labels, **{'app.kubernetes.io/instance': 'another-run'})
    self.assertFalse(_selects(peer['podSelector']['matchLabels'], other_run))
    self.assertEqual(rule['ports'], [{'protocol': 'TCP', 'port': options.port}])
    # The actors: one Indexed Job of N pods, naming the Service and its port.
    self.assertEqual(actors['spec']['completionMode'], 'Indexed')
    self.assertEqual(actors['spec']['completions'], 64)
    self.assertEqual(actors['spec']['parallelism'], 64)
    actor_container = actor_pod['spec']['containers'][0]
    env = {e['name']: e['value'] for e in actor_container['env']}
    self.assertEqual(env['IMPALA_TF_ROLE'], 'actor')
    self.assertEqual(env['IMPALA_TF_LEARNER_ADDRESS'],
                     f'{service["metadata"]["name"]}:{service["spec"]["ports"][0]["port"]}')
    # One image, one config for all.
    self.assertEqual({learner_container['image'], actor_container['image']}, {_IMAGE})
    for pod in (learner_pod, actor_pod):
      (volume,) = pod['spec']['volumes']
      self.assertEqual(volume['configMap']['name'], config_map['metadata']['name'])
      mount = pod['spec']['containers'][0]['volumeMounts'][0]
      self.assertIn(f'--config={mount["mountPath"]}/{launch.CONFIG_FILE}',
                    pod['spec']['containers'][0]['args'])
    loaded = _load_config_text(self, config_map['data'][launch.CONFIG_FILE])
    self.assertEqual(loaded, config)
    self.assertEqual((loaded.num_actors, loaded.strategy), (64, strategy))
    for obj in objs:
      self.assertEqual(obj['metadata']['namespace'], 'default')

  def test_accelerator_resources(self):
    _, text = _render(_options(accelerator='nvidia-l4', accelerator_count=2))
    pod = gke.objects(_options(accelerator='nvidia-l4', accelerator_count=2), text)[1]
    spec = pod['spec']['template']['spec']
    self.assertEqual(spec['containers'][0]['resources']['limits']['nvidia.com/gpu'], '2')
    self.assertEqual(spec['nodeSelector'], {'cloud.google.com/gke-accelerator': 'nvidia-l4'})
    options = _options(accelerator='tpu-v5e', tpu_topology='2x4')
    _, text = _render(options)
    spec = gke.objects(options, text)[1]['spec']['template']['spec']
    self.assertEqual(spec['containers'][0]['resources']['limits']['google.com/tpu'], '8')
    self.assertEqual(spec['nodeSelector'],
                     {'cloud.google.com/gke-tpu-accelerator': 'tpu-v5-lite-podslice',
                      'cloud.google.com/gke-tpu-topology': '2x4'})

  def test_validation_catches_a_broken_object(self):
    # The validator is not a formality: a misspelt field fails it.
    options = _options()
    _, text = _render(options)
    job = gke.objects(options, text)[4]
    job['spec']['completionMod'] = job['spec'].pop('completionMode')
    with self.assertRaises(kubernetes_validate.ValidationError):
      kubernetes_validate.validate(job, _KUBERNETES, strict=True)

  def test_written_yaml_round_trips(self):
    options = _options()
    _, text = _render(options)
    objs = gke.objects(options, text)
    out = self.enter_context(tempfile.TemporaryDirectory())
    paths = gke.write(objs, out)
    self.assertEqual([os.path.basename(p) for p in paths], list(gke.FILES))
    for path, obj in zip(paths, objs):
      with open(path) as f:
        self.assertEqual(yaml.safe_load(f), obj)


class VertexTest(parameterized.TestCase):

  @parameterized.named_parameters(*_ACCELERATORS)
  def test_custom_job_validates_and_is_wired(self, changes, strategy):
    options = _options(**changes)
    config, text = _render(options)
    job = vertex.custom_job(options, text)
    jsonschema.validate(job, _VERTEX_SCHEMA)
    learner, actors = job['jobSpec']['workerPoolSpecs']
    self.assertEqual((learner['replicaCount'], actors['replicaCount']), (1, 64))
    self.assertEqual({learner['containerSpec']['imageUri'], actors['containerSpec']['imageUri']},
                     {_IMAGE})
    self.assertEqual(learner['containerSpec']['command'], actors['containerSpec']['command'])
    for pool in (learner, actors):
      env = {e['name']: e['value'] for e in pool['containerSpec']['env']}
      loaded = _load_config_text(self, env[launch.CONFIG_TEXT_VARIABLE])
      self.assertEqual(loaded, config)
      self.assertEqual(loaded.strategy, strategy)
      self.assertIn('--logdir=gs://bucket/runs/pong', pool['containerSpec']['args'])
    machine = learner['machineSpec']
    if options.gpu:
      self.assertEqual((machine['acceleratorType'], machine['acceleratorCount']),
                       ('NVIDIA_L4', 2))
      self.assertEqual(machine['machineType'], 'g2-standard-8')
    elif options.tpu:
      self.assertEqual((machine['machineType'], machine['tpuTopology']),
                       ('ct5lp-hightpu-4t', '2x2'))

  def test_schema_catches_a_broken_job(self):
    options = _options()
    _, text = _render(options)
    job = vertex.custom_job(options, text)
    job['jobSpec']['workerPoolSpecs'][0]['machineSpec']['acceleratorType'] = 'NVIDIA_TESLA_T5'
    with self.assertRaises(jsonschema.ValidationError):
      jsonschema.validate(job, _VERTEX_SCHEMA)
    del job['jobSpec']['workerPoolSpecs'][0]['machineSpec']['acceleratorType']
    job['jobSpec']['workerPoolSpecs'][1]['containerSpec']['image'] = _IMAGE
    with self.assertRaises(jsonschema.ValidationError):
      jsonschema.validate(job, _VERTEX_SCHEMA)

  def test_tpu_types_vertex_does_not_offer_are_refused(self):
    options = _options(accelerator='tpu-v4', tpu_topology='2x2x1')
    _, text = _render(options)
    with self.assertRaisesRegex(launch.LaunchError, 'tpu-v4.*not offered'):
      vertex.custom_job(options, text)


class OptionsTest(parameterized.TestCase):

  @parameterized.named_parameters(
      ('name_upper_case', {'name': 'Pong'}, '--name'),
      ('name_too_long', {'name': 'p' * 41}, '--name'),
      ('no_actors', {'actors': 0}, '--actors'),
      ('local_logdir', {'logdir': '/data/runs'}, '--logdir must be a gs://'),
      ('bad_quantity', {'actor_memory': '8 GB'}, '--actor_memory'),
      ('unknown_gpu', {'accelerator': 'nvidia-k9'}, '--accelerator must be'),
      ('unknown_tpu', {'accelerator': 'tpu-v9'}, 'unknown TPU type'),
      ('multi_host_topology', {'accelerator': 'tpu-v5e', 'tpu_topology': '4x4'},
       '--tpu_topology'),
      ('three_gpus', {'accelerator': 'nvidia-l4', 'accelerator_count': 3},
       '--accelerator_count'),
  )
  def test_refused_naming_the_flag(self, changes, message):
    with self.assertRaisesRegex(launch.LaunchError, message):
      _options(**changes).validate()

  def test_fewer_actors_than_tasks_refused(self):
    config = config_lib.load_config_file(os.path.join(_REPO, 'configs', 'atari_multitask.py'))
    with self.assertRaisesRegex(launch.LaunchError, 'number of tasks'):
      launch.run_config(config, _options(actors=1))


class BinaryTest(absltest.TestCase):

  def _run(self, *args):
    return subprocess.run(
        [sys.executable, os.path.join(_REPO, 'binaries', 'launch_cloud.py'),
         f'--config={os.path.join(_REPO, "configs", "pong.py")}', f'--image={_IMAGE}',
         '--logdir=gs://bucket/runs/pong', '--name=pong-1', *args],
        capture_output=True, text=True, timeout=120)

  def test_gke_and_vertex(self):
    out = self.enter_context(tempfile.TemporaryDirectory())
    result = self._run('--platform=gke', '--actors=64', f'--out={out}/gke',
                       '--config.entropy_cost=0.02')
    self.assertEqual(result.returncode, 0, result.stderr)
    self.assertIn(f'kubectl apply -f {out}/gke', result.stdout)
    with open(os.path.join(out, 'gke', gke.FILES[0])) as f:
      loaded = _load_config_text(self, yaml.safe_load(f)['data'][launch.CONFIG_FILE])
    self.assertEqual((loaded.entropy_cost, loaded.num_actors), (0.02, 64))
    result = self._run('--platform=vertex', '--actors=64', f'--out={out}/vertex',
                       '--region=europe-west4')
    self.assertEqual(result.returncode, 0, result.stderr)
    self.assertIn('gcloud ai custom-jobs create --region=europe-west4', result.stdout)
    self.assertIn(f'--config={out}/vertex/{vertex.JOB_SPEC_FILE}', result.stdout)
    with open(os.path.join(out, 'vertex', vertex.CUSTOM_JOB_FILE)) as f:
      jsonschema.validate(json.load(f), _VERTEX_SCHEMA)

  def test_an_agent_without_actor_processes_gets_no_actor_pods(self):
    # Batched A2C synchronous per step: the learner steps every environment.
    out = self.enter_context(tempfile.TemporaryDirectory())
    flags = ('--actors=2', '--config.architecture=a2c_sync_step', '--config.envs_per_actor=8',
             '--config.batch_size=16')
    result = self._run('--platform=gke', f'--out={out}/gke', *flags)
    self.assertEqual(result.returncode, 0, result.stderr)
    self.assertEqual(sorted(os.listdir(os.path.join(out, 'gke'))), sorted(gke.FILES[:-1]))
    result = self._run('--platform=vertex', f'--out={out}/vertex', '--region=europe-west4',
                       *flags)
    self.assertEqual(result.returncode, 0, result.stderr)
    with open(os.path.join(out, 'vertex', vertex.CUSTOM_JOB_FILE)) as f:
      job = json.load(f)
    jsonschema.validate(job, _VERTEX_SCHEMA)
    self.assertLen(job['jobSpec']['workerPoolSpecs'], 1)

  def test_bad_option_is_one_line(self):
    out = self.enter_context(tempfile.TemporaryDirectory())
    result = self._run('--platform=gke', '--actors=4', f'--out={out}',
                       '--accelerator=nvidia-k9')
    self.assertEqual(result.returncode, 2)
    self.assertEqual(len(result.stderr.strip().splitlines()), 1, result.stderr)
    self.assertIn('--accelerator', result.stderr)
    self.assertEqual(os.listdir(out), [])


if __name__ == '__main__':
  absltest.main()
