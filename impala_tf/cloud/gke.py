"""A run as Kubernetes objects for GKE: plain dicts, written as YAML.

- ConfigMap `<name>-config`: the resolved config, mounted at CONFIG_DIR in
  every pod, so the learner and every actor load the same file (and the
  learner-actor config check holds).
- Service `<name>-learner`: the learner's Reverb port, under a stable name.
- NetworkPolicy `<name>-learner`: only this run's actor pods may reach the
  learner, and only on that port (Reverb has no authentication).
- JobSet `<name>` (jobset.x-k8s.io/v1alpha2): the run as one object, a
  learner Job of one pod and an Indexed actors Job of `actor_pods` pods,
  `actors_per_pod` actor processes each (JOB_COMPLETION_INDEX picks their
  --task values). The run succeeds when the learner completes; the JobSet
  controller then deletes the actors' Job. Without JobSet (`jobset=False`)
  the two Jobs are plain objects with the same pod failure policies; the
  actors then end by themselves (they exit 0 once the run has finished,
  also those that start late, from the logdir's status file).

Failures (pods have restartPolicy Never, which pod failure policies need):
- a preempted or evicted pod (condition DisruptionTarget: Spot reclaim,
  node upgrade, drain) is replaced without counting as a failure;
- an exit a restart cannot mend (`exit_codes.PERMANENT`: a usage error,
  an actor whose learner is gone for good, a learner that got no data) fails
  its Job at once (reason PodFailurePolicy), and the JobSet with it;
- any other failure is retried: the learner's pod up to `learner_restarts`
  times (it resumes from its checkpoint), each actor pod up to
  `actor_restarts` times on its own (backoffLimitPerIndex);
- a Job that fails otherwise (retries exhausted) restarts the whole JobSet,
  up to `restarts` times: every child Job is recreated, the learner resumes
  from its newest checkpoint (losing the steps since it, at most
  checkpoint_every_seconds, and the queue's contents), the actors reconnect;
- `max_run_hours` bounds each Job (activeDeadlineSeconds; reason
  DeadlineExceeded fails the JobSet without a restart);
- a finished JobSet (or plain Job) is deleted `keep_finished_hours` later;
  its logdir in the bucket stays.

A PBT population (`population` P ≥ 2) is one JobSet too: the learner and
actors replicated Jobs have P replicas each, Job m of each being member m
(the JobSet's job-index label, passed to the pod as IMPALA_TF_MEMBER). A
member's actors reach their learner by the pod hostname JobSet's headless
Service gives it (<name>-learner-<m>-0.<name>), so the run's own Service is
not rendered. The run succeeds when every member's learner has completed;
each member writes under <logdir>/member_<m>, the members share
<logdir>/population.
"""

import os
import re
from typing import Dict, List

import yaml

from impala_tf import exit_codes
from impala_tf.cloud import launch
from impala_tf.cloud import roles

PART_OF = 'impala-tf'
JOBSET_API = 'jobset.x-k8s.io/v1alpha2'
# The JobSet controller release docs/cloud.md installs.
JOBSET_VERSION = 'v0.8.0'
JOBSET_INSTALL = ('kubectl apply --server-side -f https://github.com/kubernetes-sigs/jobset/'
                  f'releases/download/{JOBSET_VERSION}/manifests.yaml')
LEARNER_JOB, ACTORS_JOB = 'learner', 'actors'
# Exit codes that fail each Job at once (see the module docstring).
LEARNER_PERMANENT = (exit_codes.USAGE, exit_codes.NO_DATA)
ACTOR_PERMANENT = (exit_codes.USAGE, exit_codes.LEARNER_GONE)
SPOT_LABEL = 'cloud.google.com/gke-spot'
# Set by the JobSet controller on each child Job's pods: the Job's index.
JOB_INDEX_LABEL = 'jobset.sigs.k8s.io/job-index'
MACHINE_LABEL = 'node.kubernetes.io/instance-type'


def labels(options: launch.LaunchOptions, component: str) -> Dict[str, str]:
  return {'app.kubernetes.io/part-of': PART_OF, 'app.kubernetes.io/instance': options.name,
          'app.kubernetes.io/component': component}


def service_name(options) -> str:
  return f'{options.name}-learner'


def learner_address(options) -> str:
  """The Service's in-cluster name and port (the pods share its namespace);
  in a population, each member's learner pod's own name (`{member}` is
  replaced in the pod, roles.py)."""
  if options.members > 1:
    return (f'{options.name}-{LEARNER_JOB}-{roles.MEMBER_PLACEHOLDER}-0.{options.name}:'
            f'{options.port}')
  return f'{service_name(options)}:{options.port}'


def child_job_names(options) -> Dict[str, str]:
  """{role: the name of its (member 0's) Job in the cluster} (JobSet names
  its children <jobset>-<replicatedJob>-<index>)."""
  if options.jobset:
    return {roles.LEARNER: f'{options.name}-{LEARNER_JOB}-0',
            roles.ACTOR: f'{options.name}-{ACTORS_JOB}-0'}
  return {roles.LEARNER: f'{options.name}-learner', roles.ACTOR: f'{options.name}-actors'}


def _metadata(options, name, component):
  return {'name': name, 'namespace': options.namespace, 'labels': labels(options, component)}


def _population_env(options, config_seed):
  """What a population's pod knows of its member (roles.py)."""
  if options.members < 2:
    return []
  return [{'name': roles.MEMBER_VARIABLE, 'valueFrom': {'fieldRef': {
              'fieldPath': f"metadata.labels['{JOB_INDEX_LABEL}']"}}},
          {'name': roles.POPULATION_VARIABLE, 'value': str(options.members)},
          {'name': roles.SEED_VARIABLE, 'value': str(config_seed)}]


def _container(options, role, image, resources, env=(), ports=()):
  container = {
      'name': role,
      'image': image,
      'command': list(launch.ENTRYPOINT),
      'args': launch.entrypoint_args(f'{launch.CONFIG_DIR}/{launch.CONFIG_FILE}',
                                     options.logdir),
      'env': [{'name': roles.ROLE_VARIABLE, 'value': role},
              {'name': roles.LEARNER_ADDRESS_VARIABLE, 'value': learner_address(options)},
              {'name': 'PYTHONUNBUFFERED', 'value': '1'}, *env],
      'resources': resources,
      'volumeMounts': [{'name': 'config', 'mountPath': launch.CONFIG_DIR, 'readOnly': True}],
  }
  if ports:
    container['ports'] = [{'name': 'reverb', 'containerPort': p, 'protocol': 'TCP'}
                          for p in ports]
  return container


def _pod_template(options, component, container, node_selector, tolerations=(),
                  grace_seconds=30):
  spec = {
      # Pod failure policies need Never: the Job, not the kubelet, replaces
      # a failed pod, and counts it.
      'restartPolicy': 'Never',
      'terminationGracePeriodSeconds': grace_seconds,
      'containers': [container],
      'volumes': [{'name': 'config', 'configMap': {'name': f'{options.name}-config'}}],
      'nodeSelector': node_selector,
  }
  if options.service_account:
    spec['serviceAccountName'] = options.service_account
  if tolerations:
    spec['tolerations'] = list(tolerations)
  return {'metadata': {'labels': labels(options, component)}, 'spec': spec}


def _failure_policy(container_name, permanent):
  return {'rules': [
      # Preemption, eviction, a node drained: not the pod's fault.
      {'action': 'Ignore', 'onPodConditions': [{'type': 'DisruptionTarget', 'status': 'True'}]},
      {'action': 'FailJob', 'onExitCodes': {'containerName': container_name, 'operator': 'In',
                                            'values': list(permanent)}},
  ]}


def _learner_job_spec(options, sizing, config_seed):
  resources = {'requests': {'cpu': sizing.learner_cpu, 'memory': sizing.learner_memory},
               'limits': {'memory': sizing.learner_memory}}
  selector = {MACHINE_LABEL: sizing.learner_machine}
  tolerations = []
  if options.gpu:
    resources['limits']['nvidia.com/gpu'] = str(options.accelerator_count)
    selector['cloud.google.com/gke-accelerator'] = options.accelerator
    tolerations.append({'key': 'nvidia.com/gpu', 'operator': 'Exists', 'effect': 'NoSchedule'})
  elif options.tpu:
    chips = str(options.tpu_chips)
    resources['requests']['google.com/tpu'] = chips
    resources['limits']['google.com/tpu'] = chips
    selector.update({'cloud.google.com/gke-tpu-accelerator': options.tpu.gke_accelerator,
                     'cloud.google.com/gke-tpu-topology': options.tpu_topology})
    tolerations.append({'key': 'google.com/tpu', 'operator': 'Exists', 'effect': 'NoSchedule'})
  container = _container(options, roles.LEARNER, options.image, resources,
                         _population_env(options, config_seed), ports=[options.port])
  spec = {
      'completions': 1,
      'parallelism': 1,
      'backoffLimit': options.learner_restarts,
      'podFailurePolicy': _failure_policy(roles.LEARNER, LEARNER_PERMANENT),
      # SIGTERM makes the learner checkpoint before it exits.
      'template': _pod_template(options, 'learner', container, selector, tolerations,
                                grace_seconds=120),
  }
  return _bounded(options, spec)


def _actors_job_spec(options, sizing, config_seed):
  resources = {'requests': {'cpu': sizing.actor_pod_cpu, 'memory': sizing.actor_pod_memory},
               'limits': {'memory': sizing.actor_pod_memory}}
  env = [{'name': roles.ACTORS_PER_POD_VARIABLE, 'value': str(sizing.actors_per_pod)},
         {'name': roles.NUM_ACTORS_VARIABLE, 'value': str(options.actors)},
         *_population_env(options, config_seed)]
  selector = {MACHINE_LABEL: sizing.actor_machine}
  tolerations = []
  if options.spot:
    selector[SPOT_LABEL] = 'true'
    tolerations.append({'key': SPOT_LABEL, 'operator': 'Equal', 'value': 'true',
                        'effect': 'NoSchedule'})
  container = _container(options, roles.ACTOR, options.actor_image_or_default, resources, env)
  spec = {
      'completionMode': 'Indexed',
      'completions': sizing.actor_pods,
      'parallelism': sizing.actor_pods,
      # Each actor pod's own retries: one crashing pod does not use up the
      # others' budget.
      'backoffLimitPerIndex': options.actor_restarts,
      'podFailurePolicy': _failure_policy(roles.ACTOR, ACTOR_PERMANENT),
      'template': _pod_template(options, 'actor', container, selector, tolerations),
  }
  return _bounded(options, spec)


def _bounded(options, job_spec):
  if options.max_run_hours:
    job_spec['activeDeadlineSeconds'] = int(options.max_run_hours * 3600)
  return job_spec


def _ttl(options):
  return int(options.keep_finished_hours * 3600)


def jobset(options, sizing, runs_actors=True, config_seed=0) -> dict:
  """The run's JobSet (see the module docstring)."""
  p = options.members
  replicated = [{'name': LEARNER_JOB, 'replicas': p,
                 'template': {'metadata': {'labels': labels(options, 'learner')},
                              'spec': _learner_job_spec(options, sizing, config_seed)}}]
  if runs_actors:
    replicated.append({'name': ACTORS_JOB, 'replicas': p,
                       'template': {'metadata': {'labels': labels(options, 'actor')},
                                    'spec': _actors_job_spec(options, sizing, config_seed)}})
  out = {
      'apiVersion': JOBSET_API, 'kind': 'JobSet',
      'metadata': _metadata(options, options.name, 'run'),
      'spec': {
          # Done when the learner is: the controller then deletes the
          # actors' Job, whatever its pods are doing.
          'successPolicy': {'operator': 'All', 'targetReplicatedJobs': [LEARNER_JOB]},
          'failurePolicy': {
              'maxRestarts': options.restarts,
              'rules': [
                  {'name': 'PermanentExit', 'action': 'FailJobSet',
                   'onJobFailureReasons': ['PodFailurePolicy']},
                  {'name': 'RunDeadline', 'action': 'FailJobSet',
                   'onJobFailureReasons': ['DeadlineExceeded']},
              ],
          },
          'ttlSecondsAfterFinished': _ttl(options),
          'replicatedJobs': replicated,
      },
  }
  if p > 1:
    # Each member's learner pod by name: <name>-learner-<m>-0.<name>.
    out['spec']['network'] = {'enableDNSHostnames': True, 'subdomain': options.name}
  return out


def plain_jobs(options, sizing, runs_actors=True, config_seed=0) -> List[dict]:
  """The learner's and the actors' Jobs, for a cluster without JobSet."""
  jobs = []
  for component, name, spec in (
      ('learner', f'{options.name}-learner', _learner_job_spec(options, sizing, config_seed)),
      ('actor', f'{options.name}-actors', _actors_job_spec(options, sizing, config_seed))):
    if component == 'actor' and not runs_actors:
      continue
    spec['ttlSecondsAfterFinished'] = _ttl(options)
    jobs.append({'apiVersion': 'batch/v1', 'kind': 'Job',
                 'metadata': _metadata(options, name, component), 'spec': spec})
  return jobs


def check_identity(options):
  """A gs:// logdir needs a service account that may write the bucket; the
  namespace's default one gets 403 and the learner fails its retries."""
  if (options.logdir.startswith('gs://') and not options.service_account
      and not options.allow_default_service_account):
    raise launch.LaunchError(
        '--service_account is needed for a gs:// logdir on GKE (a Kubernetes service account '
        'bound by Workload Identity to a Google one that may write the bucket; docs/cloud.md '
        'step 4); pass --allow_default_service_account if the default one may.')


def objects(options: launch.LaunchOptions, config_text: str,
            runs_actors: bool = True, config_seed: int = 0) -> List[dict]:
  """The run's objects, in the order they are applied; without actors for
  an agent that runs no actor processes (`registry.AgentInfo.runs_actors`).
  `config_seed`: the config's seed (a population's member m runs seed + m)."""
  options.validate()
  check_identity(options)
  if options.members > 1 and not options.jobset:
    raise launch.LaunchError('--population needs the JobSet (its members are the replicas of '
                             'one JobSet); drop --nojobset.')
  sizing = options.sizing()
  config_map = {
      'apiVersion': 'v1', 'kind': 'ConfigMap',
      'metadata': _metadata(options, f'{options.name}-config', 'config'),
      'data': {launch.CONFIG_FILE: config_text},
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
  runs = ([jobset(options, sizing, runs_actors, config_seed)] if options.jobset
          else plain_jobs(options, sizing, runs_actors, config_seed))
  # A population's actors address their learners by pod name.
  services = [service] if options.members == 1 else []
  return [config_map, *services, network_policy, *runs]


def file_name(index: int, obj: dict) -> str:
  """`kubectl apply -f DIR` applies files in name order: the ConfigMap and
  the Service before the pods that use them."""
  component = obj['metadata']['labels']['app.kubernetes.io/component']
  return f'{index:02d}-{obj["kind"].lower()}-{component}.yaml'


class _Dumper(yaml.SafeDumper):
  pass


def _str(dumper, value):
  # The config file reads as a block, not one escaped line.
  style = '|' if '\n' in value else None
  return dumper.represent_scalar('tag:yaml.org,2002:str', value, style=style)


_Dumper.add_representer(str, _str)


_MANIFEST = re.compile(r'^[0-9]{2}-[a-z]+-[a-z]+\.yaml$')


def write(objs: List[dict], out_dir: str) -> List[str]:
  """Writes one YAML file per object into `out_dir`; returns the paths.
  Manifests an earlier render left there are removed first, so the
  directory holds this run's objects only."""
  os.makedirs(out_dir, exist_ok=True)
  for name in os.listdir(out_dir):
    if _MANIFEST.match(name):
      os.remove(os.path.join(out_dir, name))
  paths = []
  for i, obj in enumerate(objs):
    path = os.path.join(out_dir, file_name(i * 10, obj))
    with open(path, 'w') as f:
      yaml.dump(obj, f, Dumper=_Dumper, sort_keys=False, default_flow_style=False)
    paths.append(path)
  return paths
