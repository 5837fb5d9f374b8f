"""A run as a Vertex AI CustomJob (REST v1 `projects.locations.customJobs`).

Worker pool 0 is the learner (one replica, with the accelerator), worker
pool 1 the actors (`actors` replicas); both run the same image and
entrypoint. Vertex gives every replica a CLUSTER_SPEC naming the pools'
addresses and the replica's own pool and index, from which the entrypoint
takes its role, its --task and the learner's address (`roles.py`). The
resolved config travels in the IMPALA_TF_CONFIG variable (a CustomJob has
no ConfigMap).

`write` puts two files in the output directory: `custom_job.json`, the
CustomJob body for the REST API, and `job_spec.json`, its `jobSpec`, which
is what `gcloud ai custom-jobs create --config` takes.
"""

import json
import os
from typing import List

from impala_tf.cloud import launch

CUSTOM_JOB_FILE = 'custom_job.json'
JOB_SPEC_FILE = 'job_spec.json'


def _container(options, config_text):
  return {
      'imageUri': options.image,
      'command': list(launch.ENTRYPOINT),
      'args': launch.entrypoint_args(None, options.logdir),
      'env': [{'name': launch.CONFIG_TEXT_VARIABLE, 'value': config_text},
              {'name': 'PYTHONUNBUFFERED', 'value': '1'}],
  }


def _learner_machine(options):
  spec = {'machineType': options.vertex_learner_machine()}
  if options.gpu:
    spec['acceleratorType'] = launch.GPUS[options.accelerator][0]
    spec['acceleratorCount'] = options.accelerator_count
  elif options.tpu:
    spec['tpuTopology'] = options.tpu_topology
  return spec


def custom_job(options: launch.LaunchOptions, config_text: str,
               runs_actors: bool = True) -> dict:
  """The CustomJob body; without the actors' pool for an agent that runs no
  actor processes (`registry.AgentInfo.runs_actors`)."""
  options.validate()
  disk = {'bootDiskType': 'pd-ssd', 'bootDiskSizeGb': 100}
  job_spec = {
      'workerPoolSpecs': [
          {'machineSpec': _learner_machine(options), 'replicaCount': 1, 'diskSpec': disk,
           'containerSpec': _container(options, config_text)},
          {'machineSpec': {'machineType': options.actor_machine_type},
           'replicaCount': options.actors, 'diskSpec': disk,
           'containerSpec': _container(options, config_text)},
      ][:2 if runs_actors else 1],
      # The learner resumes from its checkpoint in the logdir when the job is
      # submitted again: a failed replica is not worth a whole restart.
      'scheduling': {'restartJobOnWorkerRestart': False},
  }
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
