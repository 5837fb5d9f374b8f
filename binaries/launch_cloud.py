r"""Renders, starts, watches and stops a run on GKE or Vertex AI.

  python binaries/launch_cloud.py render --config=configs/pong.py --platform=gke \
      --actors=64 --image=REGION-docker.pkg.dev/PROJECT/REPO/impala-tf:TAG \
      --logdir=gs://BUCKET/runs/pong --name=pong-1 --out=manifests/pong-1 \
      [--accelerator=nvidia-l4 | --accelerator=tpu-v5e --tpu_topology=2x2] \
      [--learner_machine_type=... --actor_machine_type=... --spot] \
      [--service_account=impala-run] [--config.FIELD=VALUE ...]
  python binaries/launch_cloud.py apply --out=manifests/pong-1
  python binaries/launch_cloud.py status --out=manifests/pong-1
  python binaries/launch_cloud.py logs --out=manifests/pong-1 [--role=actors] [--follow]
  python binaries/launch_cloud.py delete --out=manifests/pong-1

`render` writes the platform's objects into --out (GKE: ConfigMap, Service,
NetworkPolicy and one JobSet; Vertex AI: a CustomJob body and its jobSpec)
with `run.json`, and prints what the run asks of the project's quotas. The
other commands read --out and run `kubectl` or `gcloud ai custom-jobs`.
docs/cloud.md walks through it.
"""

import os

from absl import flags
from ml_collections import config_flags

from impala_tf import command_line
from impala_tf import config as config_lib
from impala_tf.agents import registry
from impala_tf.cloud import gke
from impala_tf.cloud import launch
from impala_tf.cloud import operate
from impala_tf.cloud import vertex

_CONFIG = config_flags.DEFINE_config_file('config', None, 'render: preset file (configs/*.py).')
_PLATFORM = flags.DEFINE_enum('platform', None, ['gke', 'vertex'], 'render: where the run goes.')
_ACTORS = flags.DEFINE_integer('actors', None, 'render: actor processes, each with the '
                               'preset\'s envs_per_actor envs, packed --actors_per_pod to a pod '
                               '(GKE) or replica (Vertex).')
_IMAGE = flags.DEFINE_string('image', None, 'render: the learner\'s image (built from '
                             'Dockerfile with the learner\'s ACCELERATOR).')
_ACTOR_IMAGE = flags.DEFINE_string('actor_image', '', 'render: the actors\' image (the '
                                   'Dockerfile\'s CPU build); default --image.')
_LOGDIR = flags.DEFINE_string('logdir', None, 'render: the run directory, gs://BUCKET/PATH.')
_NAME = flags.DEFINE_string('name', None, 'render: the run\'s name (a DNS label, at most 40 '
                            'characters); prefixes every object.')
_OUT = flags.DEFINE_string('out', None, 'The rendered run\'s directory (every command).')
_NAMESPACE = flags.DEFINE_string('namespace', 'default', 'GKE: the namespace.')
_PORT = flags.DEFINE_integer('port', 8000, 'GKE: the learner\'s Reverb port (Vertex uses the '
                             'port in its CLUSTER_SPEC).')
_ACCELERATOR = flags.DEFINE_string(
    'accelerator', 'none', 'The learner\'s accelerator: none, a GPU '
    f'({", ".join(launch.GPUS)}) or a TPU ({", ".join("tpu-" + t for t in launch.TPUS)}).')
_ACCELERATOR_COUNT = flags.DEFINE_integer('accelerator_count', 1, 'GPUs for the learner.')
_TPU_TOPOLOGY = flags.DEFINE_string('tpu_topology', '', 'TPU topology of the learner\'s host '
                                    '(e.g. 2x2 for tpu-v5e).')
_LEARNER_MACHINE = flags.DEFINE_string('learner_machine_type', '', 'The learner\'s machine '
                                       'type (default: one that carries the accelerator, '
                                       'n2-standard-8 without one).')
_ACTOR_MACHINE = flags.DEFINE_string('actor_machine_type', 'n2-standard-8', 'The actors\' '
                                     'machine type.')
_ACTORS_PER_POD = flags.DEFINE_integer('actors_per_pod', 0, 'Actor processes per pod or '
                                       'replica (0: as many as one actor machine holds, one '
                                       'core each).')
_LEARNER_CPU = flags.DEFINE_string('learner_cpu', '', 'GKE: the learner\'s CPU request '
                                   '(default: all its machine leaves to a pod).')
_LEARNER_MEMORY = flags.DEFINE_string('learner_memory', '', 'GKE: the learner\'s memory '
                                      '(default: all its machine leaves to a pod).')
_ACTOR_CPU = flags.DEFINE_string('actor_cpu', '', 'CPU per actor process (default 1).')
_ACTOR_MEMORY = flags.DEFINE_string('actor_memory', '', 'Memory per actor process (default: '
                                    'the actor machine\'s share, at least 2Gi).')
_SPOT = flags.DEFINE_boolean('spot', False, 'GKE: actors on Spot VMs (a Spot node pool); a '
                             'preempted actor comes back without counting as a failure.')
_SERVICE_ACCOUNT = flags.DEFINE_string(
    'service_account', '', 'GKE: the Kubernetes service account bound by Workload Identity to '
    'a Google service account that may write the bucket. Vertex: that Google service account.')
_ALLOW_DEFAULT_SA = flags.DEFINE_boolean(
    'allow_default_service_account', False, 'GKE: render a gs:// run without '
    '--service_account (the namespace\'s default account must then be able to write it).')
_JOBSET = flags.DEFINE_boolean('jobset', True, 'GKE: one JobSet (needs the JobSet '
                               'controller); --nojobset renders two plain Jobs.')
_REGION = flags.DEFINE_string('region', 'us-central1', 'Vertex: the region.')
_RESTARTS = flags.DEFINE_integer('restarts', 3, 'GKE: JobSet restarts (every Job recreated, '
                                 'the learner resumes from its checkpoint).')
_LEARNER_RESTARTS = flags.DEFINE_integer('learner_restarts', 3, 'GKE: retries of the learner '
                                         'pod within its Job.')
_ACTOR_RESTARTS = flags.DEFINE_integer('actor_restarts', 6, 'GKE: retries of each actor pod.')
_MAX_RUN_HOURS = flags.DEFINE_float('max_run_hours', 0.0, 'A deadline for the whole run '
                                    '(0: none).')
_KEEP_HOURS = flags.DEFINE_float('keep_finished_hours', 24.0, 'GKE: how long a finished run\'s '
                                 'objects (and pod logs) stay.')
_DATA_TIMEOUT = flags.DEFINE_float('learner_data_timeout', 3600.0, 'Seconds the learner waits '
                                   'for data before it checkpoints and exits 4 (0: for ever).')
_POPULATION = flags.DEFINE_integer('population', 0, 'GKE: a PBT population of this many '
                                   'members, each one learner and --actors actors, in one '
                                   'JobSet (docs/pbt.md); 0: one run.')
_ROLE = flags.DEFINE_enum('role', 'learner', ['learner', 'actors'], 'logs: whose.')
_FOLLOW = flags.DEFINE_boolean('follow', False, 'logs: keep streaming.')


def _options():
  return launch.LaunchOptions(
      name=_NAME.value, image=_IMAGE.value, actors=_ACTORS.value, logdir=_LOGDIR.value,
      namespace=_NAMESPACE.value, port=_PORT.value, accelerator=_ACCELERATOR.value,
      accelerator_count=_ACCELERATOR_COUNT.value, tpu_topology=_TPU_TOPOLOGY.value,
      learner_machine_type=_LEARNER_MACHINE.value, actor_machine_type=_ACTOR_MACHINE.value,
      learner_cpu=_LEARNER_CPU.value, learner_memory=_LEARNER_MEMORY.value,
      actor_cpu=_ACTOR_CPU.value, actor_memory=_ACTOR_MEMORY.value,
      actors_per_pod=_ACTORS_PER_POD.value, actor_image=_ACTOR_IMAGE.value, spot=_SPOT.value,
      service_account=_SERVICE_ACCOUNT.value,
      allow_default_service_account=_ALLOW_DEFAULT_SA.value, jobset=_JOBSET.value,
      restarts=_RESTARTS.value, learner_restarts=_LEARNER_RESTARTS.value,
      actor_restarts=_ACTOR_RESTARTS.value, max_run_hours=_MAX_RUN_HOURS.value,
      keep_finished_hours=_KEEP_HOURS.value, learner_data_timeout=_DATA_TIMEOUT.value,
      population=_POPULATION.value)


def render():
  missing = [f'--{name}' for name, value in (
      ('config', _CONFIG.value), ('platform', _PLATFORM.value), ('actors', _ACTORS.value),
      ('image', _IMAGE.value), ('logdir', _LOGDIR.value), ('name', _NAME.value)) if not value]
  if missing:
    command_line.fail(f'render needs {", ".join(missing)}.')
  options = _options()
  try:
    options.validate()
    check = (command_line.validated_member if options.members > 1
             else command_line.validated)
    config = launch.run_config(check(_CONFIG.value), options)
    text = config_lib.config_file_text(config)
    runs_actors = registry.info(config.architecture).runs_actors
    if _PLATFORM.value == 'gke':
      paths = gke.write(gke.objects(options, text, runs_actors, config.seed), _OUT.value)
    else:
      paths = vertex.write(vertex.custom_job(options, text, runs_actors), _OUT.value)
  except launch.LaunchError as e:
    command_line.fail(str(e))
  preflight = options.sizing().summary(options)
  manifests = paths if _PLATFORM.value == 'gke' else []
  paths.append(operate.write_record(_OUT.value, _PLATFORM.value, options, _REGION.value,
                                    preflight, manifests))
  for path in paths:
    print(f'wrote {path}')
  print(preflight)
  print(f'start it with:\n  {os.path.basename(__file__)} apply --out={_OUT.value}')


def main(argv):
  commands = argv[1:]
  if len(commands) != 1 or commands[0] not in operate.COMMANDS:
    command_line.fail(f'give one command: {", ".join(operate.COMMANDS)} (got '
                      f'{" ".join(commands) or "none"}).')
  if not _OUT.value:
    command_line.fail('--out is required: the rendered run\'s directory.')
  command = commands[0]
  if command == 'render':
    render()
    return
  cli = operate.Cli()
  try:
    if command == 'apply':
      operate.apply(_OUT.value, cli)
    elif command == 'status':
      operate.status(_OUT.value, cli)
    elif command == 'logs':
      operate.logs(_OUT.value, cli, 'learner' if _ROLE.value == 'learner' else 'actor',
                   _FOLLOW.value)
    else:
      operate.delete(_OUT.value, cli)
  except operate.OperateError as e:
    command_line.fail(str(e))


def run():
  command_line.run(main)


if __name__ == '__main__':
  run()
