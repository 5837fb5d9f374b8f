"""A run as Kubernetes objects for GKE: plain dicts, written as YAML.

- ConfigMap `<name>-config`: the resolved config, mounted at CONFIG_DIR in
  every pod, so the learner and every actor load the same file (and the
  learner-actor config check holds).
- Job `<name>-learner`: one pod, restartPolicy OnFailure; a restarted
  learner resumes from the newest checkpoint in the gs:// logdir.
- Service `<name>-learner`: the learner's Reverb port, under a stable name.
- NetworkPolicy `<name>-learner`: only this run's actor pods may reach the
  learner, and only on that port (Reverb has no authentication).
- Indexed Job `<name>-actors`: completions = parallelism = actors; Kubernetes
  gives each pod its index in JOB_COMPLETION_INDEX, which becomes --task.

Every pod runs the same image and entrypoint; the role comes from
IMPALA_TF_ROLE, the learner's address from IMPALA_TF_LEARNER_ADDRESS.
"""

import os
from typing import Dict, List

import yaml

from impala_tf.cloud import launch
from impala_tf.cloud import roles

# The order `kubectl apply -f DIR` applies them in (file names sort).
FILES = ('00-config.yaml', '10-learner-job.yaml', '20-learner-service.yaml',
         '30-learner-network-policy.yaml', '40-actors-job.yaml')
PART_OF = 'impala-tf'


def labels(options: launch.LaunchOptions, component: str) -> Dict[str, str]:
  return {'app.kubernetes.io/part-of': PART_OF, 'app.kubernetes.io/instance': options.name,
          'app.kubernetes.io/component': component}


def service_name(options) -> str:
  return f'{options.name}-learner'


def learner_address(options) -> str:
  """The Service's in-cluster name and port (the pods share its namespace)."""
  return f'{service_name(options)}:{options.port}'


def _metadata(options, name, component):
  return {'name': name, 'namespace': options.namespace, 'labels': labels(options, component)}


def _container(options, role, resources, ports=()):
  container = {
      'name': role,
      'image': options.image,
      'command': list(launch.ENTRYPOINT),
      'args': launch.entrypoint_args(f'{launch.CONFIG_DIR}/{launch.CONFIG_FILE}',
                                     options.logdir),
      'env': [{'name': roles.ROLE_VARIABLE, 'value': role},
              {'name': roles.LEARNER_ADDRESS_VARIABLE, 'value': learner_address(options)},
              {'name': 'PYTHONUNBUFFERED', 'value': '1'}],
      'resources': resources,
      'volumeMounts': [{'name': 'config', 'mountPath': launch.CONFIG_DIR, 'readOnly': True}],
  }
  if ports:
    container['ports'] = [{'name': 'reverb', 'containerPort': p, 'protocol': 'TCP'}
                          for p in ports]
  return container


def _pod_spec(options, container, node_selector=None, tolerations=None):
  spec = {
      'restartPolicy': 'OnFailure',
      'containers': [container],
      'volumes': [{'name': 'config', 'configMap': {'name': f'{options.name}-config'}}],
  }
  if options.service_account:
    spec['serviceAccountName'] = options.service_account
  if node_selector:
    spec['nodeSelector'] = node_selector
  if tolerations:
    spec['tolerations'] = tolerations
  return spec


def _learner_resources(options):
  requests = {'cpu': options.learner_cpu, 'memory': options.learner_memory}
  limits = {'memory': options.learner_memory}
  node_selector, tolerations = None, None
  if options.gpu:
    limits['nvidia.com/gpu'] = str(options.accelerator_count)
    node_selector = {'cloud.google.com/gke-accelerator': options.accelerator}
    tolerations = [{'key': 'nvidia.com/gpu', 'operator': 'Exists', 'effect': 'NoSchedule'}]
  elif options.tpu:
    chips = str(options.tpu_chips)
    requests['google.com/tpu'] = chips
    limits['google.com/tpu'] = chips
    node_selector = {'cloud.google.com/gke-tpu-accelerator': options.tpu.gke_accelerator,
                     'cloud.google.com/gke-tpu-topology': options.tpu_topology}
    tolerations = [{'key': 'google.com/tpu', 'operator': 'Exists', 'effect': 'NoSchedule'}]
  return {'requests': requests, 'limits': limits}, node_selector, tolerations


def objects(options: launch.LaunchOptions, config_text: str,
            runs_actors: bool = True) -> List[dict]:
  """The run's objects, in the order of FILES; without the actors' Job for
  an agent that runs no actor processes (`registry.AgentInfo.runs_actors`)."""
  options.validate()
  config_map = {
      'apiVersion': 'v1', 'kind': 'ConfigMap',
      'metadata': _metadata(options, f'{options.name}-config', 'config'),
      'data': {launch.CONFIG_FILE: config_text},
  }
  resources, node_selector, tolerations = _learner_resources(options)
  learner_job = {
      'apiVersion': 'batch/v1', 'kind': 'Job',
      'metadata': _metadata(options, f'{options.name}-learner', 'learner'),
      'spec': {
          'completions': 1,
          'parallelism': 1,
          'backoffLimit': options.learner_restarts,
          'template': {
              'metadata': {'labels': labels(options, 'learner')},
              'spec': _pod_spec(options, _container(options, roles.LEARNER, resources,
                                                    ports=[options.port]),
                                node_selector, tolerations),
          },
      },
  }
  service = {
      'apiVersion': 'v1', 'kind': 'Service',
      'metadata': _metadata(options, service_name(options), 'learner'),
      'spec': {
          'selector': labels(options, 'learner'),
          'ports': [{'name': 'reverb', 'port': options.port, 'targetPort': 'reverb',
                     'protocol': 'TCP'}],
      },
  }
  network_policy = {
      'apiVersion': 'networking.k8s.io/v1', 'kind': 'NetworkPolicy',
      'metadata': _metadata(options, f'{options.name}-learner', 'learner'),
      'spec': {
          'podSelector': {'matchLabels': labels(options, 'learner')},
          'policyTypes': ['Ingress'],
          'ingress': [{
              'from': [{'podSelector': {'matchLabels': labels(options, 'actor')}}],
              'ports': [{'protocol': 'TCP', 'port': options.port}],
          }],
      },
  }
  actor_resources = {'requests': {'cpu': options.actor_cpu, 'memory': options.actor_memory},
                     'limits': {'memory': options.actor_memory}}
  actors_job = {
      'apiVersion': 'batch/v1', 'kind': 'Job',
      'metadata': _metadata(options, f'{options.name}-actors', 'actor'),
      'spec': {
          'completionMode': 'Indexed',
          'completions': options.actors,
          'parallelism': options.actors,
          # With restartPolicy OnFailure, restarts of any pod count here.
          'backoffLimit': options.actors * options.actor_restarts,
          'template': {
              'metadata': {'labels': labels(options, 'actor')},
              'spec': _pod_spec(options, _container(options, roles.ACTOR, actor_resources)),
          },
      },
  }
  return [config_map, learner_job, service, network_policy] + (
      [actors_job] if runs_actors else [])


class _Dumper(yaml.SafeDumper):
  pass


def _str(dumper, value):
  # The config file reads as a block, not one escaped line.
  style = '|' if '\n' in value else None
  return dumper.represent_scalar('tag:yaml.org,2002:str', value, style=style)


_Dumper.add_representer(str, _str)


def write(objs: List[dict], out_dir: str) -> List[str]:
  """Writes one YAML file per object into `out_dir`; returns the paths."""
  os.makedirs(out_dir, exist_ok=True)
  paths = []
  for name, obj in zip(FILES, objs):
    path = os.path.join(out_dir, name)
    with open(path, 'w') as f:
      yaml.dump(obj, f, Dumper=_Dumper, sort_keys=False, default_flow_style=False)
    paths.append(path)
  return paths


def submit_command(out_dir: str) -> str:
  return f'kubectl apply -f {out_dir}'
