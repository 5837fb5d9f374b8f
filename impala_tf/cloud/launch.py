"""What a cloud run is: its launch options, accelerators, and role commands.

One run is one learner and `actors` actor processes, all from one image,
all loading the same resolved config (`config.py`, as the local launcher
writes it). `gke.py` and `vertex.py` turn `LaunchOptions` and that config
text into their platform's objects; both start every container with the
same entrypoint, which resolves the role from the platform's environment
(`roles.py`).
"""

import dataclasses
import re
from typing import Dict, Optional, Tuple

from impala_tf import config as config_lib

# The image's entrypoint (the Dockerfile's ENTRYPOINT says the same).
ENTRYPOINT = ('python', '-m', 'impala_tf_binaries.cloud_entrypoint')
# Where GKE mounts the run's ConfigMap.
CONFIG_DIR = '/etc/impala-tf'
CONFIG_FILE = 'config.py'
# Vertex has no ConfigMap: the config's text travels in this variable.
CONFIG_TEXT_VARIABLE = 'IMPALA_TF_CONFIG'

# GPU types: the GKE node label value -> Vertex's acceleratorType, and the
# Vertex machine family that carries it (its `-<n>g` or size suffix).
GPUS: Dict[str, Tuple[str, str]] = {
    'nvidia-tesla-t4': ('NVIDIA_TESLA_T4', 'n1-standard-8'),
    'nvidia-tesla-v100': ('NVIDIA_TESLA_V100', 'n1-standard-8'),
    'nvidia-l4': ('NVIDIA_L4', 'g2-standard-{n4}'),
    'nvidia-tesla-a100': ('NVIDIA_TESLA_A100', 'a2-highgpu-{n}g'),
    'nvidia-a100-80gb': ('NVIDIA_A100_80GB', 'a2-ultragpu-{n}g'),
    'nvidia-h100-80gb': ('NVIDIA_H100_80GB', 'a3-highgpu-{n}g'),
}


@dataclasses.dataclass(frozen=True)
class TpuType:
  gke_accelerator: str            # node label cloud.google.com/gke-tpu-accelerator
  vertex_machine: Optional[str]   # Vertex machine type with '{chips}' (None: not on Vertex)
  topologies: Dict[str, int]      # single-host topology -> chips


# One learner is one process on one host: single-host slices only.
TPUS: Dict[str, TpuType] = {
    'v5e': TpuType('tpu-v5-lite-podslice', 'ct5lp-hightpu-{chips}t',
                   {'1x1': 1, '2x2': 4, '2x4': 8}),
    'v6e': TpuType('tpu-v6e-slice', 'ct6e-standard-{chips}t', {'1x1': 1, '2x2': 4, '2x4': 8}),
    'v5p': TpuType('tpu-v5p-slice', None, {'2x2x1': 4}),
    'v4': TpuType('tpu-v4-podslice', None, {'2x2x1': 4}),
}

# Kubernetes object names are DNS labels (63 characters); the longest suffix
# added to the run's name is '-learner'.
_NAME = re.compile(r'^[a-z]([-a-z0-9]{0,38}[a-z0-9])?$')
_QUANTITY = re.compile(r'^[0-9]+(\.[0-9]+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?$')


class LaunchError(ValueError):
  """A launch option that cannot work; the message names the flag."""


@dataclasses.dataclass(frozen=True)
class LaunchOptions:
  """How to run one config on a cluster (the flags of launch_cloud.py)."""
  name: str
  image: str
  actors: int
  logdir: str
  namespace: str = 'default'
  port: int = 8000
  # 'none', a GPU type (GPUS) or 'tpu-<type>' (TPUS).
  accelerator: str = 'none'
  accelerator_count: int = 1
  tpu_topology: str = ''
  learner_cpu: str = '8'
  learner_memory: str = '32Gi'
  actor_cpu: str = '4'
  actor_memory: str = '8Gi'
  learner_machine_type: str = ''   # Vertex; '' derives one from the accelerator
  actor_machine_type: str = 'n2-standard-4'
  service_account: str = ''        # GKE: Kubernetes SA (Workload Identity); Vertex: GCP SA
  learner_restarts: int = 10
  actor_restarts: int = 6          # per actor

  @property
  def tpu(self) -> Optional[TpuType]:
    return TPUS[self.accelerator[4:]] if self.accelerator.startswith('tpu-') else None

  @property
  def gpu(self) -> bool:
    return self.accelerator in GPUS

  @property
  def tpu_chips(self) -> int:
    return self.tpu.topologies[self.tpu_topology]

  def validate(self) -> 'LaunchOptions':
    if not _NAME.match(self.name):
      raise LaunchError(f'--name must be a DNS label of at most 40 characters (lower-case '
                        f'letters, digits and "-", starting with a letter), got {self.name!r}.')
    if not self.image or any(c.isspace() for c in self.image):
      raise LaunchError(f'--image must name one container image, got {self.image!r}.')
    if self.actors < 1:
      raise LaunchError(f'--actors must be at least 1, got {self.actors}.')
    # file:// only where every pod shares one filesystem (a one-node cluster,
    # the fake-cluster test); a pod's own disk dies with the pod.
    if not self.logdir.startswith(('gs://', 'file:///')):
      raise LaunchError(f'--logdir must be a gs:// URL that every pod can reach, got '
                        f'{self.logdir!r}.')
    if not _NAME.match(self.namespace) and self.namespace != 'default':
      raise LaunchError(f'--namespace must be a DNS label, got {self.namespace!r}.')
    if not 0 < self.port < 65536:
      raise LaunchError(f'--port must be in [1, 65535], got {self.port}.')
    for flag in ('learner_cpu', 'learner_memory', 'actor_cpu', 'actor_memory'):
      if not _QUANTITY.match(getattr(self, flag)):
        raise LaunchError(f'--{flag} must be a Kubernetes quantity (e.g. 4, 500m, 8Gi), got '
                          f'{getattr(self, flag)!r}.')
    if self.accelerator.startswith('tpu-'):
      kind = self.accelerator[4:]
      if kind not in TPUS:
        raise LaunchError(f'--accelerator: unknown TPU type {kind!r}; one of '
                          f'{", ".join("tpu-" + t for t in TPUS)}.')
      if self.tpu_topology not in TPUS[kind].topologies:
        raise LaunchError(f'--tpu_topology must be a single-host topology of {kind} (one '
                          f'learner process): one of {", ".join(TPUS[kind].topologies)}; got '
                          f'{self.tpu_topology!r}.')
    elif self.accelerator != 'none' and self.accelerator not in GPUS:
      raise LaunchError(f'--accelerator must be none, a GPU ({", ".join(GPUS)}) or a TPU '
                        f'({", ".join("tpu-" + t for t in TPUS)}), got {self.accelerator!r}.')
    if self.gpu and self.accelerator_count not in (1, 2, 4, 8):
      raise LaunchError(f'--accelerator_count must be 1, 2, 4 or 8 GPUs, got '
                        f'{self.accelerator_count}.')
    if self.learner_restarts < 0 or self.actor_restarts < 0:
      raise LaunchError('--learner_restarts and --actor_restarts must be non-negative.')
    return self

  def vertex_learner_machine(self) -> str:
    if self.learner_machine_type:
      return self.learner_machine_type
    if self.tpu:
      if self.tpu.vertex_machine is None:
        raise LaunchError(f'--accelerator={self.accelerator} is not offered by Vertex AI '
                          'custom jobs as one host; use tpu-v5e or tpu-v6e, or GKE.')
      return self.tpu.vertex_machine.format(chips=self.tpu_chips)
    if self.gpu:
      n = self.accelerator_count
      return GPUS[self.accelerator][1].format(n=n, n4=4 * n)
    return 'n2-standard-8'


def run_config(config: config_lib.ImpalaConfig, options: LaunchOptions):
  """The config the run executes: its actor count, and the learner's
  strategy for the accelerator it is given."""
  changes = {'num_actors': options.actors}
  if options.tpu:
    changes['strategy'] = 'tpu'
  elif options.gpu and options.accelerator_count > 1:
    changes['strategy'] = 'mirrored'
  config = dataclasses.replace(config, **changes)
  if config.num_actors < config.num_tasks:
    raise LaunchError(f'--actors ({config.num_actors}) must be at least the number of tasks '
                      f'({config.num_tasks}): actor i plays task i % {config.num_tasks}.')
  return config.validate()


def entrypoint_args(config_path: Optional[str], logdir: str):
  """The entrypoint's arguments (after ENTRYPOINT), the same for both roles."""
  args = [f'--logdir={logdir}']
  if config_path:
    args.insert(0, f'--config={config_path}')
  return args

