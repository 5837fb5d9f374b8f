"""Rendered cloud runs: valid objects, wired to each other, sized to fit.

GKE objects are validated with kubernetes-validate --strict against
Kubernetes 1.30, each JobSet's replicated Job as the batch/v1 Job the
controller makes of it, and the JobSet's own fields against a schema
transcribed from its API reference (tests/data/jobset_v1alpha2.json); the
Vertex CustomJob against a JSON schema written from the Vertex AI v1 REST
reference (tests/schemas/vertex_custom_job_v1.json: the official client
library does not install beside TF 2.15's protobuf pin). Pod requests are
checked against machine shapes and GKE's reservations transcribed apart
from the code (tests/data/gce_machines.json).
"""

import dataclasses
import json
import os
import shlex
import subprocess
import sys
import tempfile

from absl.testing import absltest
from absl.testing import parameterized
import jsonschema
import kubernetes_validate
import yaml

from impala_tf import config as config_lib
from impala_tf import exit_codes
from impala_tf.cloud import gke
from impala_tf.cloud import launch
from impala_tf.cloud import machines
from impala_tf.cloud import operate
from impala_tf.cloud import vertex

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_KUBERNETES = '1.30'
_IMAGE = 'us-docker.pkg.dev/project/repo/impala-tf:1'
with open(os.path.join(_REPO, 'tests', 'schemas', 'vertex_custom_job_v1.json')) as _f:
  _VERTEX_SCHEMA = json.load(_f)
with open(os.path.join(_REPO, 'tests', 'data', 'jobset_v1alpha2.json')) as _f:
  _JOBSET_SCHEMA = json.load(_f)
with open(os.path.join(_REPO, 'tests', 'data', 'gce_machines.json')) as _f:
  _MACHINE_DATA = json.load(_f)


def _options(**changes):
  base = launch.LaunchOptions(name='pong-1', image=_IMAGE, actors=64,
                              logdir='gs://bucket/runs/pong', service_account='impala-run')
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


def _as_job(template, name):
  """A replicated Job's template as the batch/v1 Job the controller makes."""
  return {'apiVersion': 'batch/v1', 'kind': 'Job',
          'metadata': dict(template.get('metadata', {}), name=name), 'spec': template['spec']}


def _pods(objs):
  """{component: (job spec, pod template)} of a rendered GKE run."""
  out = {}
  for obj in objs:
    if obj['kind'] == 'JobSet':
      for rj in obj['spec']['replicatedJobs']:
        spec = rj['template']['spec']
        out[spec['template']['metadata']['labels']['app.kubernetes.io/component']] = (
            spec, spec['template'])
    elif obj['kind'] == 'Job':
      out[obj['metadata']['labels']['app.kubernetes.io/component']] = (
          obj['spec'], obj['spec']['template'])
  return out


def _fits(test, pod, data):
  """The pod's requests fit its node's allocatable share (from the
  independent data file) less the DaemonSet margin."""
  machine = pod['spec']['nodeSelector'][gke.MACHINE_LABEL]
  shape = data['machines'][machine]
  alloc_cpu, alloc_memory = machines.gke_allocatable(machines.Machine(
      machine, shape['vcpus'], shape['memory_gib']))
  requests = pod['spec']['containers'][0]['resources']['requests']
  test.assertLessEqual(launch.cpu_cores(requests['cpu']), alloc_cpu - machines.DAEMONSET_CPU,
                       (machine, requests))
  test.assertLessEqual(launch.memory_gib(requests['memory']),
                       alloc_memory - machines.DAEMONSET_MEMORY_GIB, (machine, requests))
  return machine


_ACCELERATORS = (
    ('cpu', {}, 'default'),
    ('two_l4', {'accelerator': 'nvidia-l4', 'accelerator_count': 2}, 'mirrored'),
    ('tpu_v5e', {'accelerator': 'tpu-v5e', 'tpu_topology': '2x2'}, 'tpu'),
)


class MachinesTest(absltest.TestCase):
  """machines.py against shapes and reservations transcribed apart from it."""

  def test_shapes_agree_with_the_published_table(self):
    for name, shape in _MACHINE_DATA['machines'].items():
      m = machines.machine(name)
      self.assertEqual((m.vcpus, m.memory_gib, m.gpus, m.gpu, m.tpu_chips),
                       (shape['vcpus'], shape['memory_gib'], shape.get('gpus', 0),
                        shape.get('gpu', ''), shape.get('tpu_chips', 0)), name)
    for gpu, limits in _MACHINE_DATA['n1_gpu_limits'].items():
      if gpu == 'comment':
        continue
      self.assertEqual(machines.N1_ATTACHABLE[gpu], {int(k): v for k, v in limits.items()})

  def test_allocatable_matches_worked_examples(self):
    for name, expected in _MACHINE_DATA['gke_reservations']['examples'].items():
      cpu, memory = machines.gke_allocatable(machines.machine(name))
      self.assertAlmostEqual(cpu, expected['cpu'], places=2, msg=name)
      self.assertAlmostEqual(memory, expected['memory_gib'], places=2, msg=name)

  def test_every_accelerator_machine_carries_it(self):
    for gpu, kind in launch.GPUS.items():
      for count, name in kind.machines.items():
        m = machines.machine(name)
        if m.gpus:
          self.assertEqual((m.gpu, m.gpus), (gpu, count), name)
        else:
          self.assertIsNone(machines.n1_gpu_problem(m, gpu, count), name)
    for kind in launch.TPUS.values():
      for topology, name in kind.machines.items():
        chips = 1
        for d in topology.split('x'):
          chips *= int(d)
        self.assertEqual(machines.machine(name).tpu_chips, chips, name)


class GkeTest(parameterized.TestCase):

  @parameterized.named_parameters(*_ACCELERATORS)
  def test_objects_validate_and_are_wired(self, changes, strategy):
    options = _options(**changes)
    config, text = _render(options)
    objs = gke.objects(options, text)
    self.assertEqual([o['kind'] for o in objs],
                     ['ConfigMap', 'Service', 'NetworkPolicy', 'JobSet'])
    config_map, service, policy, jobset = objs
    for obj in objs[:3]:
      kubernetes_validate.validate(obj, _KUBERNETES, strict=True)
    jsonschema.validate(jobset, _JOBSET_SCHEMA)
    for rj in jobset['spec']['replicatedJobs']:
      kubernetes_validate.validate(_as_job(rj['template'], f'pong-1-{rj["name"]}-0'),
                                   _KUBERNETES, strict=True)
    pods = _pods(objs)
    (learner_job, learner_pod), (actors_job, actor_pod) = pods['learner'], pods['actor']
    learner_labels = learner_pod['metadata']['labels']
    actor_labels = actor_pod['metadata']['labels']

    # The learner: one pod; the run succeeds when it does.
    self.assertEqual((learner_job['completions'], learner_job['parallelism']), (1, 1))
    self.assertEqual(jobset['spec']['successPolicy'],
                     {'operator': 'All', 'targetReplicatedJobs': ['learner']})
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
    # The actors: one Indexed Job, 7 actor processes per n2-standard-8 pod,
    # naming the Service and its port.
    self.assertEqual(actors_job['completionMode'], 'Indexed')
    self.assertEqual((actors_job['completions'], actors_job['parallelism']), (10, 10))
    actor_container = actor_pod['spec']['containers'][0]
    env = {e['name']: e['value'] for e in actor_container['env']}
    self.assertEqual(env['IMPALA_TF_ROLE'], 'actor')
    self.assertEqual((env['IMPALA_TF_ACTORS_PER_POD'], env['IMPALA_TF_NUM_ACTORS']), ('7', '64'))
    self.assertEqual(env['IMPALA_TF_LEARNER_ADDRESS'],
                     f'{service["metadata"]["name"]}:{service["spec"]["ports"][0]["port"]}')
    self.assertEqual({learner_container['image'], actor_container['image']}, {_IMAGE})
    for pod in (learner_pod, actor_pod):
      (volume,) = pod['spec']['volumes']
      self.assertEqual(volume['configMap']['name'], config_map['metadata']['name'])
      mount = pod['spec']['containers'][0]['volumeMounts'][0]
      self.assertIn(f'--config={mount["mountPath"]}/{launch.CONFIG_FILE}',
                    pod['spec']['containers'][0]['args'])
      self.assertEqual(pod['spec']['restartPolicy'], 'Never')
      self.assertEqual(pod['spec']['serviceAccountName'], 'impala-run')
      _fits(self, pod, _MACHINE_DATA)
    loaded = _load_config_text(self, config_map['data'][launch.CONFIG_FILE])
    self.assertEqual(loaded, config)
    self.assertEqual((loaded.num_actors, loaded.strategy), (64, strategy))
    self.assertEqual(loaded.learner_data_timeout_seconds, 3600.0)
    for obj in objs:
      self.assertEqual(obj['metadata']['namespace'], 'default')

  def test_failures_end_or_restart_the_run_as_the_exit_code_says(self):
    options = _options(max_run_hours=12, keep_finished_hours=6)
    _, text = _render(options)
    objs = gke.objects(options, text)
    jobset = objs[-1]
    pods = _pods(objs)
    for component, permanent in (('learner', [2, 4]), ('actor', [2, 3])):
      job, pod = pods[component]
      rules = job['podFailurePolicy']['rules']
      # Preempted or evicted pods are replaced without counting.
      self.assertEqual(rules[0], {'action': 'Ignore', 'onPodConditions': [
          {'type': 'DisruptionTarget', 'status': 'True'}]})
      # Exits a restart cannot mend fail the Job at once.
      self.assertEqual(rules[1]['action'], 'FailJob')
      self.assertEqual(rules[1]['onExitCodes']['values'], permanent)
      self.assertEqual(rules[1]['onExitCodes']['containerName'],
                       pod['spec']['containers'][0]['name'])
      self.assertEqual(job['activeDeadlineSeconds'], 12 * 3600)
    self.assertEqual(pods['learner'][0]['backoffLimit'], 3)
    self.assertEqual(pods['actor'][0]['backoffLimitPerIndex'], 6)
    self.assertNotIn('backoffLimit', pods['actor'][0])
    # A Job failed by such an exit, or by the deadline, fails the JobSet; any
    # other Job failure restarts it, at most 3 times.
    policy = jobset['spec']['failurePolicy']
    self.assertEqual(policy['maxRestarts'], 3)
    self.assertEqual([(r['action'], r['onJobFailureReasons']) for r in policy['rules']],
                     [('FailJobSet', ['PodFailurePolicy']), ('FailJobSet', ['DeadlineExceeded'])])
    self.assertEqual(jobset['spec']['ttlSecondsAfterFinished'], 6 * 3600)
    # The codes are the binaries' own.
    self.assertEqual((exit_codes.USAGE, exit_codes.LEARNER_GONE, exit_codes.NO_DATA), (2, 3, 4))

  def test_the_issue_render_fits_and_packs_actors(self):
    options = _options(accelerator='nvidia-l4', learner_machine_type='g2-standard-8',
                       actor_machine_type='n2-standard-8', spot=True,
                       actor_image='us-docker.pkg.dev/project/repo/impala-tf-cpu:1')
    _, text = _render(options)
    objs = gke.objects(options, text)
    pods = _pods(objs)
    self.assertEqual(_fits(self, pods['learner'][1], _MACHINE_DATA), 'g2-standard-8')
    self.assertEqual(_fits(self, pods['actor'][1], _MACHINE_DATA), 'n2-standard-8')
    sizing = options.sizing()
    self.assertLessEqual(sizing.actor_nodes, 10)
    self.assertGreaterEqual(sizing.actor_pods * sizing.actors_per_pod, 64)
    actor_spec = pods['actor'][1]['spec']
    self.assertEqual(actor_spec['nodeSelector'],
                     {gke.MACHINE_LABEL: 'n2-standard-8', 'cloud.google.com/gke-spot': 'true'})
    self.assertEqual(actor_spec['tolerations'],
                     [{'key': 'cloud.google.com/gke-spot', 'operator': 'Equal', 'value': 'true',
                       'effect': 'NoSchedule'}])
    self.assertEqual(actor_spec['containers'][0]['image'],
                     'us-docker.pkg.dev/project/repo/impala-tf-cpu:1')
    # The learner is not on Spot, and keeps the accelerator image.
    learner_spec = pods['learner'][1]['spec']
    self.assertNotIn('cloud.google.com/gke-spot', learner_spec['nodeSelector'])
    self.assertEqual(learner_spec['containers'][0]['image'], _IMAGE)

  def test_accelerator_resources(self):
    options = _options(accelerator='nvidia-l4', accelerator_count=2)
    _, text = _render(options)
    spec = _pods(gke.objects(options, text))['learner'][1]['spec']
    self.assertEqual(spec['containers'][0]['resources']['limits']['nvidia.com/gpu'], '2')
    self.assertEqual(spec['nodeSelector'], {'cloud.google.com/gke-accelerator': 'nvidia-l4',
                                            gke.MACHINE_LABEL: 'g2-standard-24'})
    options = _options(accelerator='tpu-v5e', tpu_topology='2x4')
    _, text = _render(options)
    spec = _pods(gke.objects(options, text))['learner'][1]['spec']
    self.assertEqual(spec['containers'][0]['resources']['limits']['google.com/tpu'], '8')
    self.assertEqual(spec['nodeSelector'],
                     {'cloud.google.com/gke-tpu-accelerator': 'tpu-v5-lite-podslice',
                      'cloud.google.com/gke-tpu-topology': '2x4',
                      gke.MACHINE_LABEL: 'ct5lp-hightpu-8t'})

  def test_plain_jobs_without_jobset(self):
    options = _options(jobset=False)
    _, text = _render(options)
    objs = gke.objects(options, text)
    self.assertEqual([o['kind'] for o in objs],
                     ['ConfigMap', 'Service', 'NetworkPolicy', 'Job', 'Job'])
    for obj in objs:
      kubernetes_validate.validate(obj, _KUBERNETES, strict=True)
    for job in objs[3:]:
      self.assertEqual(job['spec']['ttlSecondsAfterFinished'], 24 * 3600)
      self.assertEqual(job['spec']['podFailurePolicy']['rules'][0]['action'], 'Ignore')
    self.assertEqual(gke.child_job_names(options), {'learner': 'pong-1-learner',
                                                   'actor': 'pong-1-actors'})
    self.assertEqual(gke.child_job_names(_options()), {'learner': 'pong-1-learner-0',
                                                      'actor': 'pong-1-actors-0'})

  def test_a_population_is_one_jobset_with_a_learner_per_member(self):
    # FTW's and PBT's shape: P members, each a learner and its actors; the
    # run succeeds when every member's learner has.
    options = _options(population=4, actors=1)
    config = config_lib.load_config_file(os.path.join(_REPO, 'configs', 'cartpole_pbt.py'))
    config = launch.run_config(config, options)
    objs = gke.objects(options, config_lib.config_file_text(config), config_seed=config.seed)
    self.assertEqual([o['kind'] for o in objs], ['ConfigMap', 'NetworkPolicy', 'JobSet'])
    jobset = objs[-1]
    jsonschema.validate(jobset, _JOBSET_SCHEMA)
    for rj in jobset['spec']['replicatedJobs']:
      kubernetes_validate.validate(_as_job(rj['template'], f'x-{rj["name"]}-0'), _KUBERNETES,
                                   strict=True)
    self.assertEqual([(rj['name'], rj['replicas']) for rj in jobset['spec']['replicatedJobs']],
                     [('learner', 4), ('actors', 4)])
    self.assertEqual(jobset['spec']['successPolicy'],
                     {'operator': 'All', 'targetReplicatedJobs': ['learner']})
    self.assertEqual(jobset['spec']['network'],
                     {'enableDNSHostnames': True, 'subdomain': 'pong-1'})
    for component, (_, pod) in _pods(objs).items():
      env = {e['name']: e for e in pod['spec']['containers'][0]['env']}
      self.assertEqual(env['IMPALA_TF_MEMBER']['valueFrom'],
                       {'fieldRef': {'fieldPath': "metadata.labels['jobset.sigs.k8s.io/job-index']"}})
      self.assertEqual(env['IMPALA_TF_POPULATION']['value'], '4')
      self.assertEqual(env['IMPALA_TF_SEED']['value'], str(config.seed))
      # JobSet's pod hostname for member m's learner: <jobset>-<job>-<m>-<pod>.<subdomain>.
      self.assertEqual(env['IMPALA_TF_LEARNER_ADDRESS']['value'],
                       'pong-1-learner-{member}-0.pong-1:8000', component)
    with self.assertRaisesRegex(launch.LaunchError, '--population needs the JobSet'):
      gke.objects(dataclasses.replace(options, jobset=False), 'X = 1')
    with self.assertRaisesRegex(launch.LaunchError, '--population: a Vertex AI job'):
      vertex.custom_job(_options(population=4, actors=1,
                                 service_account='sa@p.iam.gserviceaccount.com'), 'X = 1')
    # Members' actor pods share nodes: 4 single-actor pods on one node.
    self.assertIn('quota: 40 vCPUs in all (32 learner, 8 actors), 5 nodes',
                  options.sizing().summary(options))

  def test_validation_catches_a_broken_object(self):
    # The validators are not a formality: a misspelt field fails them.
    options = _options()
    _, text = _render(options)
    jobset = gke.objects(options, text)[-1]
    template = jobset['spec']['replicatedJobs'][1]['template']
    template['spec']['completionMod'] = template['spec'].pop('completionMode')
    with self.assertRaises(kubernetes_validate.ValidationError):
      kubernetes_validate.validate(_as_job(template, 'x'), _KUBERNETES, strict=True)
    jobset['spec']['failurePolicy']['rules'][0]['action'] = 'FailJob'
    with self.assertRaises(jsonschema.ValidationError):
      jsonschema.validate(jobset, _JOBSET_SCHEMA)
    jobset['spec']['failurePolicy']['rules'][0]['action'] = 'FailJobSet'
    jobset['spec']['sucessPolicy'] = jobset['spec'].pop('successPolicy')
    with self.assertRaises(jsonschema.ValidationError):
      jsonschema.validate(jobset, _JOBSET_SCHEMA)

  def test_written_yaml_round_trips(self):
    options = _options()
    _, text = _render(options)
    objs = gke.objects(options, text)
    out = self.enter_context(tempfile.TemporaryDirectory())
    paths = gke.write(objs, out)
    # kubectl applies files in name order: the ConfigMap and Service first.
    self.assertEqual([os.path.basename(p) for p in paths],
                     ['00-configmap-config.yaml', '10-service-learner.yaml',
                      '20-networkpolicy-learner.yaml', '30-jobset-run.yaml'])
    for path, obj in zip(paths, objs):
      with open(path) as f:
        self.assertEqual(yaml.safe_load(f), obj)
    # Rendered again without JobSet into the same directory: only this
    # render's manifests are left there (kubectl apply -f DIR applies all).
    objs = gke.objects(dataclasses.replace(options, jobset=False), text)
    paths = gke.write(objs, out)
    self.assertEqual(sorted(os.listdir(out)), sorted(os.path.basename(p) for p in paths))
    self.assertIn('40-job-actor.yaml', os.listdir(out))


def _vertex_options(**changes):
  return _options(**dict(dict(service_account='impala-run@project.iam.gserviceaccount.com'),
                         **changes))


class VertexTest(parameterized.TestCase):

  @parameterized.named_parameters(*_ACCELERATORS)
  def test_custom_job_validates_and_is_wired(self, changes, strategy):
    options = _vertex_options(**changes)
    config, text = _render(options)
    job = vertex.custom_job(options, text)
    jsonschema.validate(job, _VERTEX_SCHEMA)
    learner, actors = job['jobSpec']['workerPoolSpecs']
    # 64 actors, 7 per n2-standard-8 replica.
    self.assertEqual((learner['replicaCount'], actors['replicaCount']), (1, 10))
    self.assertEqual(actors['machineSpec'], {'machineType': 'n2-standard-8'})
    self.assertEqual({learner['containerSpec']['imageUri'], actors['containerSpec']['imageUri']},
                     {_IMAGE})
    self.assertEqual(learner['containerSpec']['command'], actors['containerSpec']['command'])
    for pool in (learner, actors):
      env = {e['name']: e['value'] for e in pool['containerSpec']['env']}
      loaded = _load_config_text(self, env[launch.CONFIG_TEXT_VARIABLE])
      self.assertEqual(loaded, config)
      self.assertEqual(loaded.strategy, strategy)
      self.assertIn('--logdir=gs://bucket/runs/pong', pool['containerSpec']['args'])
    env = {e['name']: e['value'] for e in actors['containerSpec']['env']}
    self.assertEqual((env['IMPALA_TF_ACTORS_PER_POD'], env['IMPALA_TF_NUM_ACTORS']), ('7', '64'))
    self.assertEqual(job['jobSpec']['baseOutputDirectory'],
                     {'outputUriPrefix': 'gs://bucket/runs/pong'})
    machine = learner['machineSpec']
    if options.gpu:
      self.assertEqual((machine['acceleratorType'], machine['acceleratorCount']),
                       ('NVIDIA_L4', 2))
    elif options.tpu:
      self.assertEqual((machine['machineType'], machine['tpuTopology']),
                       ('ct5lp-hightpu-4t', '2x2'))

  @parameterized.named_parameters(
      ('one_l4', 'nvidia-l4', 1), ('two_l4', 'nvidia-l4', 2), ('four_l4', 'nvidia-l4', 4),
      ('eight_l4', 'nvidia-l4', 8), ('four_t4', 'nvidia-tesla-t4', 4),
      ('eight_v100', 'nvidia-tesla-v100', 8), ('two_a100', 'nvidia-tesla-a100', 2),
      ('eight_h100', 'nvidia-h100-80gb', 8))
  def test_the_learner_machine_carries_its_gpus(self, gpu, count):
    # Against the transcribed shapes, not launch.GPUS: a machine with its
    # GPUs built in has exactly that many; an N1 machine takes them.
    options = _vertex_options(accelerator=gpu, accelerator_count=count)
    _, text = _render(options)
    machine = vertex.custom_job(options, text)['jobSpec']['workerPoolSpecs'][0]['machineSpec']
    shape = _MACHINE_DATA['machines'][machine['machineType']]
    if 'gpus' in shape:
      self.assertEqual((shape['gpu'], shape['gpus']), (gpu, count))
    else:
      limits = _MACHINE_DATA['n1_gpu_limits'][gpu]
      self.assertIn(str(count), limits)
      self.assertLessEqual(shape['vcpus'], limits[str(count)])
    self.assertEqual(machine['acceleratorCount'], count)

  def test_two_l4_is_g2_standard_24(self):
    options = _vertex_options(accelerator='nvidia-l4', accelerator_count=2)
    _, text = _render(options)
    machine = vertex.custom_job(options, text)['jobSpec']['workerPoolSpecs'][0]['machineSpec']
    self.assertEqual(machine['machineType'], 'g2-standard-24')

  def test_schema_catches_a_broken_job(self):
    options = _vertex_options()
    _, text = _render(options)
    job = vertex.custom_job(options, text)
    job['jobSpec']['workerPoolSpecs'][0]['machineSpec']['acceleratorType'] = 'NVIDIA_TESLA_T5'
    with self.assertRaises(jsonschema.ValidationError):
      jsonschema.validate(job, _VERTEX_SCHEMA)
    del job['jobSpec']['workerPoolSpecs'][0]['machineSpec']['acceleratorType']
    job['jobSpec']['workerPoolSpecs'][1]['containerSpec']['image'] = _IMAGE
    with self.assertRaises(jsonschema.ValidationError):
      jsonschema.validate(job, _VERTEX_SCHEMA)

  def test_what_vertex_cannot_do_is_refused(self):
    options = _vertex_options(accelerator='tpu-v4', tpu_topology='2x2x1')
    _, text = _render(options)
    with self.assertRaisesRegex(launch.LaunchError, 'tpu-v4.*not offered'):
      vertex.custom_job(options, text)
    with self.assertRaisesRegex(launch.LaunchError, '--spot.*learner too'):
      vertex.custom_job(_vertex_options(spot=True), text)
    # The Kubernetes service account's name is a GKE thing.
    with self.assertRaisesRegex(launch.LaunchError, 'Google service account.*got .impala-run.'):
      vertex.custom_job(_options(), text)


class OptionsTest(parameterized.TestCase):

  @parameterized.named_parameters(
      ('name_upper_case', {'name': 'Pong'}, '--name'),
      ('name_too_long', {'name': 'p' * 41}, '--name'),
      ('no_actors', {'actors': 0}, '--actors'),
      ('local_logdir', {'logdir': '/data/runs'}, '--logdir must be a gs://'),
      ('bad_quantity', {'actor_memory': '8 GB'}, '--actor_memory'),
      ('cpu_as_memory', {'learner_memory': '500m'}, '--learner_memory'),
      ('unknown_gpu', {'accelerator': 'nvidia-k9'}, '--accelerator must be'),
      ('unknown_tpu', {'accelerator': 'tpu-v9'}, 'unknown TPU type'),
      ('multi_host_topology', {'accelerator': 'tpu-v5e', 'tpu_topology': '4x4'},
       '--tpu_topology'),
      ('three_gpus', {'accelerator': 'nvidia-l4', 'accelerator_count': 3},
       '--accelerator_count'),
      ('eight_t4', {'accelerator': 'nvidia-tesla-t4', 'accelerator_count': 8},
       '--accelerator_count: one machine carries 1, 2, 4'),
      ('unknown_machine', {'actor_machine_type': 'n9-standard-8'}, 'unknown machine type'),
      ('l4_machine_for_two', {'accelerator': 'nvidia-l4', 'accelerator_count': 2,
                              'learner_machine_type': 'g2-standard-8'},
       'carries 1 nvidia-l4 GPU.*g2-standard-24 does'),
      ('too_many_t4_vcpus', {'accelerator': 'nvidia-tesla-v100',
                             'learner_machine_type': 'n1-standard-16'}, 'at most 12 vCPUs'),
      ('gpu_machine_for_actors', {'actor_machine_type': 'g2-standard-8'}, 'actors run on CPUs'),
      # The numbers an operator needs to fix it.
      ('learner_cpu_too_big', {'learner_cpu': '8'},
       r'--learner_cpu=8 does not fit n2-standard-8: .* at most 7\.51 CPU'),
      ('learner_memory_too_big', {'learner_memory': '32Gi'},
       r'--learner_memory=32Gi does not fit n2-standard-8: .* at most 27\.34 GiB'),
      ('actors_per_pod_too_many', {'actors_per_pod': 8},
       r'--actors_per_pod=8 needs 8 CPU .* at most 7 actors per pod'),
      ('one_actor_too_big', {'actor_cpu': '4', 'actor_machine_type': 'n2-standard-4'},
       'one actor .* does not fit an n2-standard-4 node'),
  )
  def test_refused_naming_the_flag(self, changes, message):
    with self.assertRaisesRegex(launch.LaunchError, message):
      _options(**changes).validate()

  def test_explicit_requests_that_fit_are_kept(self):
    sizing = _options(learner_cpu='6', learner_memory='20Gi', actor_cpu='2',
                      actor_memory='3Gi').sizing()
    self.assertEqual((sizing.learner_cpu, sizing.learner_memory), ('6', '20Gi'))
    # 2 CPU each: 3 actors per n2-standard-8 pod, 22 pods.
    self.assertEqual((sizing.actors_per_pod, sizing.actor_pods), (3, 22))
    self.assertEqual((sizing.actor_pod_cpu, sizing.actor_pod_memory), ('6000m', '9216Mi'))

  def test_gke_gs_logdir_needs_a_service_account(self):
    options = _options(service_account='')
    _, text = _render(options)
    with self.assertRaisesRegex(launch.LaunchError, '--service_account is needed'):
      gke.objects(options, text)
    gke.objects(_options(service_account='', allow_default_service_account=True), text)

  def test_fewer_actors_than_tasks_refused(self):
    config = config_lib.load_config_file(os.path.join(_REPO, 'configs', 'atari_multitask.py'))
    with self.assertRaisesRegex(launch.LaunchError, 'number of tasks'):
      launch.run_config(config, _options(actors=1))


def _docs_render_commands():
  """The `launch_cloud.py render` commands of docs/cloud.md, as argv lists
  with its placeholders filled in."""
  with open(os.path.join(_REPO, 'docs', 'cloud.md')) as f:
    text = f.read().replace('\\\n', ' ')
  commands = []
  for line in text.splitlines():
    line = line.strip()
    if line.startswith('.venv/bin/python binaries/launch_cloud.py render'):
      line = (line.replace('PROJECT', 'project').replace('REGION', 'us-central1')
              .replace('BUCKET', 'bucket'))
      commands.append(shlex.split(line)[1:])
  return commands


class BinaryTest(absltest.TestCase):

  def _run(self, *args, command='render'):
    return subprocess.run(
        [sys.executable, os.path.join(_REPO, 'binaries', 'launch_cloud.py'), command,
         f'--config={os.path.join(_REPO, "configs", "pong.py")}', f'--image={_IMAGE}',
         '--logdir=gs://bucket/runs/pong', '--name=pong-1', *args],
        capture_output=True, text=True, timeout=120)

  def test_gke_and_vertex(self):
    out = self.enter_context(tempfile.TemporaryDirectory())
    result = self._run('--platform=gke', '--actors=64', f'--out={out}/gke',
                       '--service_account=impala-run', '--config.entropy_cost=0.02')
    self.assertEqual(result.returncode, 0, result.stderr)
    self.assertIn(f'apply --out={out}/gke', result.stdout)
    # The preflight: what the run asks of the project's quotas.
    self.assertIn('10 pods on 10 x n2-standard-8', result.stdout)
    self.assertIn('quota: 88 vCPUs', result.stdout)
    with open(os.path.join(out, 'gke', '00-configmap-config.yaml')) as f:
      loaded = _load_config_text(self, yaml.safe_load(f)['data'][launch.CONFIG_FILE])
    self.assertEqual((loaded.entropy_cost, loaded.num_actors), (0.02, 64))
    result = self._run('--platform=vertex', '--actors=64', f'--out={out}/vertex',
                       '--region=europe-west4')
    self.assertEqual(result.returncode, 0, result.stderr)
    with open(os.path.join(out, 'vertex', vertex.CUSTOM_JOB_FILE)) as f:
      jsonschema.validate(json.load(f), _VERTEX_SCHEMA)
    with open(os.path.join(out, 'vertex', operate.RUN_FILE)) as f:
      self.assertEqual(json.load(f)['region'], 'europe-west4')

  def test_docs_invocations_render_and_fit(self):
    commands = _docs_render_commands()
    self.assertGreaterEqual(len(commands), 2)
    out = self.enter_context(tempfile.TemporaryDirectory())
    for i, argv in enumerate(commands):
      argv = [a for a in argv if not a.startswith('--out=')] + [f'--out={out}/{i}']
      result = subprocess.run([sys.executable, *argv], capture_output=True, text=True,
                              timeout=120, cwd=_REPO)
      self.assertEqual(result.returncode, 0, (argv, result.stderr))
      for name in sorted(os.listdir(os.path.join(out, str(i)))):
        if name.endswith('.yaml'):
          with open(os.path.join(out, str(i), name)) as f:
            for component, (_, pod) in _pods([yaml.safe_load(f)]).items():
              _fits(self, pod, _MACHINE_DATA)

  def test_an_agent_without_actor_processes_gets_no_actor_pods(self):
    # Batched A2C synchronous per step: the learner steps every environment.
    out = self.enter_context(tempfile.TemporaryDirectory())
    flags = ('--actors=2', '--config.architecture=a2c_sync_step', '--config.envs_per_actor=8',
             '--config.batch_size=16')
    result = self._run('--platform=gke', f'--out={out}/gke', '--service_account=sa', *flags)
    self.assertEqual(result.returncode, 0, result.stderr)
    with open(os.path.join(out, 'gke', '30-jobset-run.yaml')) as f:
      jobset = yaml.safe_load(f)
    self.assertEqual([rj['name'] for rj in jobset['spec']['replicatedJobs']], ['learner'])
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
    result = self._run('--platform=gke', '--actors=4', f'--out={out}', command='deploy')
    self.assertEqual(result.returncode, 2)
    self.assertIn('give one command: render, apply, status, logs, delete', result.stderr)


if __name__ == '__main__':
  absltest.main()
