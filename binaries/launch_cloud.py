r"""Renders a run for GKE or Vertex AI, and prints the command that submits it.

  python binaries/launch_cloud.py --config=configs/pong.py --platform=gke \
      --actors=64 --image=REGION-docker.pkg.dev/PROJECT/REPO/impala-tf:TAG \
      --logdir=gs://BUCKET/runs/pong --name=pong-1 --out=manifests/pong-1 \
      [--accelerator=nvidia-l4 | --accelerator=tpu-v5e --tpu_topology=2x2] \
      [--config.FIELD=VALUE ...]

GKE: YAML files under --out (ConfigMap, learner Job, Service, NetworkPolicy,
actors' Indexed Job); submit with `kubectl apply -f OUT`. Vertex AI: a
CustomJob body and its jobSpec as JSON under --out; submit with the printed
`gcloud ai custom-jobs create` command. Nothing is submitted by this
program. docs/cloud.md walks through both.
"""

from absl import flags
from ml_collections import config_flags

from impala_tf import command_line
from impala_tf import config as config_lib
from impala_tf.agents import registry
from impala_tf.cloud import gke
from impala_tf.cloud import launch
from impala_tf.cloud import vertex

_CONFIG = config_flags.DEFINE_config_file('config', None, 'Preset file (configs/*.py).')
_PLATFORM = flags.DEFINE_enum('platform', None, ['gke', 'vertex'], 'Where the run goes.')
_ACTORS = flags.DEFINE_integer('actors', None, 'Actor pods (GKE) or replicas (Vertex), one '
                               'actor process each, with the preset\'s envs_per_actor envs.')
_IMAGE = flags.DEFINE_string('image', None, 'The container image (built from Dockerfile) of '
                             'every pod.')
_LOGDIR = flags.DEFINE_string('logdir', None, 'The run directory, gs://BUCKET/PATH.')
_NAME = flags.DEFINE_string('name', None, 'The run\'s name (a DNS label, at most 40 '
                            'characters); prefixes every object.')
_OUT = flags.DEFINE_string('out', None, 'Directory the manifests are written to.')
_NAMESPACE = flags.DEFINE_string('namespace', 'default', 'GKE: the namespace.')
_PORT = flags.DEFINE_integer('port', 8000, 'GKE: the learner\'s Reverb port (Vertex uses the '
                             'port in its CLUSTER_SPEC).')
_ACCELERATOR = flags.DEFINE_string(
    'accelerator', 'none', 'The learner\'s accelerator: none, a GPU '
    f'({", ".join(launch.GPUS)}) or a TPU ({", ".join("tpu-" + t for t in launch.TPUS)}).')
_ACCELERATOR_COUNT = flags.DEFINE_integer('accelerator_count', 1, 'GPUs for the learner.')
_TPU_TOPOLOGY = flags.DEFINE_string('tpu_topology', '', 'TPU topology of the learner\'s host '
                                    '(e.g. 2x2 for tpu-v5e).')
_LEARNER_CPU = flags.DEFINE_string('learner_cpu', '8', 'GKE: the learner\'s CPU request.')
_LEARNER_MEMORY = flags.DEFINE_string('learner_memory', '32Gi', 'GKE: the learner\'s memory.')
_ACTOR_CPU = flags.DEFINE_string('actor_cpu', '4', 'GKE: each actor\'s CPU request.')
_ACTOR_MEMORY = flags.DEFINE_string('actor_memory', '8Gi', 'GKE: each actor\'s memory.')
_LEARNER_MACHINE = flags.DEFINE_string('learner_machine_type', '', 'Vertex: the learner\'s '
                                       'machine type (default: one that carries the '
                                       'accelerator).')
_ACTOR_MACHINE = flags.DEFINE_string('actor_machine_type', 'n2-standard-4', 'Vertex: each '
                                     'actor\'s machine type.')
_SERVICE_ACCOUNT = flags.DEFINE_string(
    'service_account', '', 'GKE: the Kubernetes service account bound by Workload Identity to '
    'a Google service account that may write the bucket. Vertex: that Google service account.')
_REGION = flags.DEFINE_string('region', 'us-central1', 'Vertex: the region.')
_LEARNER_RESTARTS = flags.DEFINE_integer('learner_restarts', 10, 'GKE: the learner Job\'s '
                                         'backoffLimit.')
_ACTOR_RESTARTS = flags.DEFINE_integer('actor_restarts', 6, 'GKE: restarts allowed per actor.')
flags.mark_flags_as_required(['config', 'platform', 'actors', 'image', 'logdir', 'name', 'out'])


def main(argv):
  del argv
  options = launch.LaunchOptions(
      name=_NAME.value, image=_IMAGE.value, actors=_ACTORS.value, logdir=_LOGDIR.value,
      namespace=_NAMESPACE.value, port=_PORT.value, accelerator=_ACCELERATOR.value,
      accelerator_count=_ACCELERATOR_COUNT.value, tpu_topology=_TPU_TOPOLOGY.value,
      learner_cpu=_LEARNER_CPU.value, learner_memory=_LEARNER_MEMORY.value,
      actor_cpu=_ACTOR_CPU.value, actor_memory=_ACTOR_MEMORY.value,
      learner_machine_type=_LEARNER_MACHINE.value, actor_machine_type=_ACTOR_MACHINE.value,
      service_account=_SERVICE_ACCOUNT.value, learner_restarts=_LEARNER_RESTARTS.value,
      actor_restarts=_ACTOR_RESTARTS.value)
  try:
    options.validate()
    config = launch.run_config(command_line.validated(_CONFIG.value), options)
    text = config_lib.config_file_text(config)
    runs_actors = registry.info(config.architecture).runs_actors
    if _PLATFORM.value == 'gke':
      paths = gke.write(gke.objects(options, text, runs_actors), _OUT.value)
      submit = gke.submit_command(_OUT.value)
    else:
      job = vertex.custom_job(options, text, runs_actors)
      paths = vertex.write(job, _OUT.value)
      submit = vertex.submit_command(job, _OUT.value, _REGION.value)
  except launch.LaunchError as e:
    command_line.fail(str(e))
  for path in paths:
    print(f'wrote {path}')
  print(f'submit with:\n  {submit}')


def run():
  command_line.run(main)


if __name__ == '__main__':
  run()
