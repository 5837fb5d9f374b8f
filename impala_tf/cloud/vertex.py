"""A run as a Vertex AI CustomJob (REST v1 `projects.locations.customJobs`).

Worker pool 0 is the learner (one replica, with the accelerator, on the
machine that carries it), worker pool 1 the actors (`actor_pods` replicas
of `actors_per_pod` actor processes each, from the actor image). Vertex
gives every replica a CLUSTER_SPEC naming the pools' addresses and the
replica's own pool and index, from which the entrypoint takes its role,
its --task values and the learner's address (`roles.py`). The resolved
config travels in the IMPALA_TF_CONFIG variable (a CustomJob has no
ConfigMap); `baseOutputDirectory` is the logdir.

On Vertex a non-zero exit of any replica fails the whole job. So an actor
exits 0 whenever the run is over (the learner said so, or the logdir's
status file does, for an actor that starts late), rides out a learner
restart by retrying for `actor_learner_timeout_seconds`, and exits non-zero
only when something is really wrong (a config mismatch, a learner gone for
good); the learner gives up with status 4 if no data arrives for
`learner_data_timeout_seconds`.

`write` puts two files in the output directory: `custom_job.json`, the
CustomJob body for the REST API, and `job_spec.json`, its `jobSpec`, which
is what `gcloud ai custom-jobs create --config` takes.
"""

import json
import os
from typing import List

from impala_tf.cloud import launch
from impala_tf.cloud import roles

CUSTOM_JOB_FILE = 'custom_job.json'
JOB_SPEC_FILE = 'job_spec.json'


def _container(options, config_text, image, env=()):
  return {
      'imageUri': image,
      'command': list(launch.ENTRYPOINT),
      'args': launch.entrypoint_args(None, options.logdir),
      'env': [{'name': launch.CONFIG_TEXT_VARIABLE, 'value': config_text},
              {'name': 'PYTHONUNBUFFERED', 'value': '1'}, *env],
  }


def _learner_machine(options, sizing):
  spec = {'machineType': sizing.learner_machine}
  if options.gpu:
    spec['acceleratorType'] = launch.GPUS[options.accelerator].vertex_type
    spec['acceleratorCount'] = options.accelerator_count
  elif options.tpu:
    spec['tpuTopology'] = options.tpu_topology
  return spec


def check(options):
  """What Vertex cannot do of what the options ask."""
  if options.tpu and not options.tpu.on_vertex:
    raise launch.LaunchError(f'--accelerator={options.accelerator} is not offered by Vertex AI '
                             'custom jobs as one host; use tpu-v5e or tpu-v6e, or GKE.')
  if options.members > 1:
    raise launch.LaunchError('--population: a Vertex AI job has one primary replica and at most '
                             'four pools; render a population for GKE, where it is one JobSet.')
  if options.service_account and '@' not in options.service_account:
    raise launch.LaunchError(f'--service_account on Vertex AI is a Google service account\'s '
                             f'email (NAME@PROJECT.iam.gserviceaccount.com), got '
                             f'{options.service_account!r}.')
  if options.spot:
    raise launch.LaunchError('--spot: Vertex AI\'s Spot scheduling covers every pool of a job, '
                             'the learner too; use GKE for Spot actors.')


def custom_job(options: launch.LaunchOptions, config_text: str,
               runs_actors: bool = True) -> dict:
  """The CustomJob body; without the actors' pool for an agent that runs no
  actor processes (`registry.AgentInfo.runs_actors`)."""
  options.validate()
  check(options)
  sizing = options.sizing()
  disk = {'bootDiskType': 'pd-ssd', 'bootDiskSizeGb': 100}
  actor_env = [{'name': roles.ACTORS_PER_POD_VARIABLE, 'value': str(sizing.actors_per_pod)},
               {'name': roles.NUM_ACTORS_VARIABLE, 'value': str(options.actors)}]
  job_spec = {
      'workerPoolSpecs': [
          {'machineSpec': _learner_machine(options, sizing), 'replicaCount': 1,
           'diskSpec': disk, 'containerSpec': _container(options, config_text, options.image)},
          {'machineSpec': {'machineType': sizing.actor_machine},
           'replicaCount': sizing.actor_pods, 'diskSpec': disk,
           'containerSpec': _container(options, config_text, options.actor_image_or_default,
                                       actor_env)},
      ][:2 if runs_actors else 1],
      # The learner resumes from its checkpoint in the logdir when the job is
      # submitted again: a failed replica is not worth a whole restart.
      'scheduling': {'restartJobOnWorkerRestart': False},
  }
  if options.max_run_hours:
    job_spec['scheduling']['timeout'] = f'{int(options.max_run_hours * 3600)}s'
  if options.logdir.startswith('gs://'):
    job_spec['baseOutputDirectory'] = {'outputUriPrefix': options.logdir}
  if options.service_account:
    job_spec['serviceAccount'] = options.service_account
  return {'displayName': options.name, 'jobSpec': job_spec,
          'labels': {'impala-tf-run': options.name}}


def write(job: dict, out_dir: str) -> List[str]:
  os.makedirs(out_dir, exist_ok=True)
  paths = []
  for name, body in ((CUSTOM_JOB_FILE, job), (JOB_SPEC_FILE, job['jobSpec'])):
    path = os.path.join(out_dir, name)
    with open(path, 'w') as f:
      json.dump(body, f, indent=2)
      f.write('\n')
    paths.append(path)
  return paths


def submit_command(job: dict, out_dir: str, region: str) -> str:
  return (f'gcloud ai custom-jobs create --region={region} '
          f'--display-name={job["displayName"]} '
          f'--labels=impala-tf-run={job["labels"]["impala-tf-run"]} '
          f'--config={os.path.join(out_dir, JOB_SPEC_FILE)}')
