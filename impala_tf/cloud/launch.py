"""What a cloud run is: its launch options, machines, accelerators, sizes.

One run is one learner and `actors` actor processes, packed
`actors_per_pod` to a pod (GKE) or replica (Vertex AI), all loading the
same resolved config (`config.py`, as the local launcher writes it).
`gke.py` and `vertex.py` turn `LaunchOptions`, its `Sizing` and that config
text into their platform's objects; both start every container with the
same entrypoint, which resolves the role from the platform's environment
(`roles.py`).
"""

import dataclasses
import math
import re
from typing import Dict, Optional

from impala_tf import config as config_lib
from impala_tf.cloud import machines

# The image's entrypoint (the Dockerfile's ENTRYPOINT says the same).
ENTRYPOINT = ('python', '-m', 'impala_tf_binaries.cloud_entrypoint')
# Where GKE mounts the run's ConfigMap.
CONFIG_DIR = '/etc/impala-tf'
CONFIG_FILE = 'config.py'
# Vertex has no ConfigMap: the config's text travels in this variable.
CONFIG_TEXT_VARIABLE = 'IMPALA_TF_CONFIG'

# What one actor process is given: a core (it steps its environments and
# runs its policy on one intra-op thread, actor_intra_op_threads=1) and
# memory for TensorFlow, its environments and its send buffers. The 2 GiB
# is a margin, not a measurement of any preset; `kubectl top pod` shows a
# run's own figure, and --actor_memory sets it.
ACTOR_CPU = 1.0
ACTOR_MEMORY_GIB = 2.0


@dataclasses.dataclass(frozen=True)
class GpuType:
  vertex_type: str                  # Vertex AI's acceleratorType
  machines: Dict[int, str]          # GPUs per learner -> the machine that carries them


# GKE node label value -> how Vertex names it and which machines carry 1-8.
GPUS: Dict[str, GpuType] = {
    'nvidia-tesla-t4': GpuType('NVIDIA_TESLA_T4', {1: 'n1-standard-8', 2: 'n1-standard-16',
                                                   4: 'n1-standard-32'}),
    'nvidia-tesla-v100': GpuType('NVIDIA_TESLA_V100', {1: 'n1-standard-8', 2: 'n1-standard-16',
                                                       4: 'n1-standard-32', 8: 'n1-standard-64'}),
    'nvidia-l4': GpuType('NVIDIA_L4', {1: 'g2-standard-8', 2: 'g2-standard-24',
                                       4: 'g2-standard-48', 8: 'g2-standard-96'}),
    'nvidia-tesla-a100': GpuType('NVIDIA_TESLA_A100', {n: f'a2-highgpu-{n}g' for n in (1, 2, 4, 8)}),
    'nvidia-a100-80gb': GpuType('NVIDIA_A100_80GB', {n: f'a2-ultragpu-{n}g' for n in (1, 2, 4, 8)}),
    'nvidia-h100-80gb': GpuType('NVIDIA_H100_80GB', {n: f'a3-highgpu-{n}g' for n in (1, 2, 4, 8)}),
}


@dataclasses.dataclass(frozen=True)
class TpuType:
  gke_accelerator: str            # node label cloud.google.com/gke-tpu-accelerator
  machines: Dict[str, str]        # single-host topology -> its machine type
  on_vertex: bool                 # offered by Vertex AI custom jobs


# One learner is one process on one host: single-host slices only.
TPUS: Dict[str, TpuType] = {
    'v5e': TpuType('tpu-v5-lite-podslice', {'1x1': 'ct5lp-hightpu-1t', '2x2': 'ct5lp-hightpu-4t',
                                            '2x4': 'ct5lp-hightpu-8t'}, True),
    'v6e': TpuType('tpu-v6e-slice', {'1x1': 'ct6e-standard-1t', '2x2': 'ct6e-standard-4t',
                                     '2x4': 'ct6e-standard-8t'}, True),
    'v5p': TpuType('tpu-v5p-slice', {'2x2x1': 'ct5p-hightpu-4t'}, False),
    'v4': TpuType('tpu-v4-podslice', {'2x2x1': 'ct4p-hightpu-4t'}, False),
}

# Kubernetes object names are DNS labels (63 characters); the longest suffix
# added to the run's name is '-learner'.
_NAME = re.compile(r'^[a-z]([-a-z0-9]{0,38}[a-z0-9])?$')
_QUANTITY = re.compile(r'^([0-9]+(?:\.[0-9]+)?)(m|k|M|G|T|Ki|Mi|Gi|Ti)?$')
_MEMORY_UNITS = {None: 1, 'k': 1e3, 'M': 1e6, 'G': 1e9, 'T': 1e12, 'Ki': 2**10, 'Mi': 2**20,
                 'Gi': 2**30, 'Ti': 2**40}


class LaunchError(ValueError):
  """A launch option that cannot work; the message names the flag."""


def cpu_cores(quantity: str) -> float:
  """A Kubernetes CPU quantity ('4', '3500m') in cores."""
  number, unit = _QUANTITY.match(quantity).groups()
  if unit not in (None, 'm'):
    raise ValueError(f'{quantity!r} is not a CPU quantity.')
  return float(number) / (1000 if unit == 'm' else 1)


def memory_gib(quantity: str) -> float:
  """A Kubernetes memory quantity ('8Gi', '512Mi', '8G') in GiB."""
  number, unit = _QUANTITY.match(quantity).groups()
  if unit == 'm':
    raise ValueError(f'{quantity!r} is not a memory quantity.')
  return float(number) * _MEMORY_UNITS[unit] / 2**30


def _cpu_quantity(cores: float) -> str:
  return f'{int(math.floor(cores * 10 + 1e-9)) * 100}m'


def _memory_quantity(gib: float) -> str:
  return f'{int(math.floor(gib * 4 + 1e-9)) * 256}Mi'


@dataclasses.dataclass(frozen=True)
class Sizing:
  """Where every process of a run goes and what its pod requests."""
  learner_machine: str
  learner_cpu: str
  learner_memory: str
  actor_machine: str
  actors_per_pod: int
  actor_pods: int
  actor_pod_cpu: str
  actor_pod_memory: str
  pods_per_node: int         # actor pods one actor node holds

  def nodes_for(self, pods: int) -> int:
    """Actor nodes (GKE) or VMs (Vertex) `pods` actor pods fill."""
    return math.ceil(pods / self.pods_per_node)

  @property
  def actor_nodes(self) -> int:
    """The actor nodes one run (or one member) fills."""
    return self.nodes_for(self.actor_pods)

  def summary(self, options: 'LaunchOptions') -> str:
    """The preflight: what the run asks of the project's quotas."""
    learner = machines.machine(self.learner_machine)
    actor = machines.machine(self.actor_machine)
    p = options.members
    accel, total_accel = '', ''
    if options.gpu:
      accel = f', {options.accelerator_count} {options.accelerator} GPU(s)'
      total_accel = f'; {p * options.accelerator_count} {options.accelerator} GPU(s)'
    elif options.tpu:
      accel = f', {options.tpu_chips} {options.accelerator} chip(s)'
      total_accel = f'; {p * options.tpu_chips} {options.accelerator} chip(s)'
    each = ' each' if p > 1 else ''
    # Members' actor pods share nodes.
    actor_nodes = self.nodes_for(p * self.actor_pods)
    lines = [f'population: {p} members, each one learner and its actors'] if p > 1 else []
    lines += [
        f'learner{each}: 1 x {self.learner_machine} ({learner.vcpus} vCPUs{accel}), pod '
        f'requests {self.learner_cpu} CPU, {self.learner_memory}',
        f'actors{each}: {options.actors} processes, {self.actors_per_pod} per pod: '
        f'{self.actor_pods} pods on {self.actor_nodes} x {self.actor_machine} '
        f'({actor.vcpus} vCPUs each){" (Spot)" if options.spot else ""}, each pod requests '
        f'{self.actor_pod_cpu} CPU, {self.actor_pod_memory}',
        f'quota: {p * learner.vcpus + actor_nodes * actor.vcpus} vCPUs in all '
        f'({p * learner.vcpus} learner, {actor_nodes * actor.vcpus} actors)'
        f'{total_accel}, {p + actor_nodes} nodes',
    ]
    return '\n'.join(lines)


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
  # Node pools' machine types; '' derives the learner's from its accelerator.
  learner_machine_type: str = ''
  actor_machine_type: str = 'n2-standard-8'
  # Requests; '' sizes them to the machine. The actors' are per process.
  learner_cpu: str = ''
  learner_memory: str = ''
  actor_cpu: str = ''
  actor_memory: str = ''
  actors_per_pod: int = 0          # 0: as many as one actor machine holds
  # PBT: this many members, each a learner with its own `actors` actors
  # (GKE JobSet only); 0 or 1: one run.
  population: int = 0
  actor_image: str = ''            # '' = image (build it without ACCELERATOR)
  spot: bool = False               # actors on Spot VMs
  service_account: str = ''        # GKE: Kubernetes SA (Workload Identity); Vertex: GCP SA
  allow_default_service_account: bool = False
  jobset: bool = True              # GKE: one JobSet; False: two plain Jobs
  restarts: int = 3                # JobSet restarts (every Job recreated)
  learner_restarts: int = 3        # learner pod retries within its Job
  actor_restarts: int = 6          # retries of each actor pod (backoffLimitPerIndex)
  max_run_hours: float = 0.0       # 0: no deadline
  keep_finished_hours: float = 24.0
  learner_data_timeout: float = 3600.0   # seconds; 0: wait for ever

  @property
  def tpu(self) -> Optional[TpuType]:
    return TPUS[self.accelerator[4:]] if self.accelerator.startswith('tpu-') else None

  @property
  def gpu(self) -> bool:
    return self.accelerator in GPUS

  @property
  def tpu_chips(self) -> int:
    return machines.machine(self.tpu.machines[self.tpu_topology]).tpu_chips

  @property
  def members(self) -> int:
    """Learners in the run: the population's size, or 1."""
    return max(1, self.population)

  @property
  def actor_image_or_default(self) -> str:
    return self.actor_image or self.image

  def validate(self) -> 'LaunchOptions':
    if not _NAME.match(self.name):
      raise LaunchError(f'--name must be a DNS label of at most 40 characters (lower-case '
                        f'letters, digits and "-", starting with a letter), got {self.name!r}.')
    for flag in ('image', 'actor_image'):
      value = getattr(self, flag)
      if (flag == 'image' and not value) or any(c.isspace() for c in value):
        raise LaunchError(f'--{flag} must name one container image, got {value!r}.')
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
    for flag, parse in (('learner_cpu', cpu_cores), ('learner_memory', memory_gib),
                        ('actor_cpu', cpu_cores), ('actor_memory', memory_gib)):
      value = getattr(self, flag)
      if not value:
        continue
      if not _QUANTITY.match(value):
        raise LaunchError(f'--{flag} must be a Kubernetes quantity (e.g. 4, 500m, 8Gi), got '
                          f'{value!r}.')
      try:
        parse(value)
      except ValueError as e:
        raise LaunchError(f'--{flag}: {e}') from None
    if self.accelerator.startswith('tpu-'):
      kind = self.accelerator[4:]
      if kind not in TPUS:
        raise LaunchError(f'--accelerator: unknown TPU type {kind!r}; one of '
                          f'{", ".join("tpu-" + t for t in TPUS)}.')
      if self.tpu_topology not in TPUS[kind].machines:
        raise LaunchError(f'--tpu_topology must be a single-host topology of {kind} (one '
                          f'learner process): one of {", ".join(TPUS[kind].machines)}; got '
                          f'{self.tpu_topology!r}.')
    elif self.accelerator != 'none' and self.accelerator not in GPUS:
      raise LaunchError(f'--accelerator must be none, a GPU ({", ".join(GPUS)}) or a TPU '
                        f'({", ".join("tpu-" + t for t in TPUS)}), got {self.accelerator!r}.')
    if self.gpu and self.accelerator_count not in GPUS[self.accelerator].machines:
      raise LaunchError(f'--accelerator_count: one machine carries '
                        f'{", ".join(map(str, GPUS[self.accelerator].machines))} '
                        f'{self.accelerator} GPUs, not {self.accelerator_count}.')
    for flag in ('restarts', 'learner_restarts', 'actor_restarts', 'actors_per_pod',
                 'population'):
      if getattr(self, flag) < 0:
        raise LaunchError(f'--{flag} must be non-negative, got {getattr(self, flag)}.')
    for flag in ('max_run_hours', 'keep_finished_hours', 'learner_data_timeout'):
      if not getattr(self, flag) >= 0:
        raise LaunchError(f'--{flag} must be 0 or positive, got {getattr(self, flag)}.')
    for flag in ('learner_machine_type', 'actor_machine_type'):
      value = getattr(self, flag)
      if value:
        try:
          machines.machine(value)
        except ValueError as e:
          raise LaunchError(f'--{flag}: {e}') from None
    self.sizing()
    return self

  # --- Machines and requests ------------------------------------------------------
  def learner_machine(self) -> str:
    """The learner's machine type: given, or the one that carries its accelerator."""
    if self.tpu:
      derived = self.tpu.machines[self.tpu_topology]
    elif self.gpu:
      derived = GPUS[self.accelerator].machines[self.accelerator_count]
    else:
      derived = 'n2-standard-8'
    name = self.learner_machine_type or derived
    m = machines.machine(name)
    if self.tpu and name != derived:
      raise LaunchError(f'--learner_machine_type={name}: a {self.accelerator} '
                        f'{self.tpu_topology} host is {derived}.')
    if self.gpu:
      if m.gpus:
        if (m.gpu, m.gpus) != (self.accelerator, self.accelerator_count):
          raise LaunchError(f'--learner_machine_type={name} carries {m.gpus} {m.gpu} GPU(s), '
                            f'not {self.accelerator_count} {self.accelerator}; '
                            f'{derived} does.')
      elif name.startswith('n1-'):
        problem = machines.n1_gpu_problem(m, self.accelerator, self.accelerator_count)
        if problem:
          raise LaunchError(f'--learner_machine_type={name}: {problem}.')
      else:
        raise LaunchError(f'--learner_machine_type={name} carries no {self.accelerator}; '
                          f'{derived} does.')
    elif self.accelerator == 'none' and (m.gpus or m.tpu_chips):
      raise LaunchError(f'--learner_machine_type={name} is an accelerator machine, but '
                        '--accelerator=none.')
    return name

  def sizing(self) -> Sizing:
    """Machines, packing and requests; refuses requests that do not fit."""
    learner_name = self.learner_machine()
    learner_cpu, learner_memory = machines.pod_capacity(machines.machine(learner_name))
    cpu = _fit('learner_cpu', self.learner_cpu, learner_cpu, learner_name, cpu_cores,
               _cpu_quantity, 'CPU')
    memory = _fit('learner_memory', self.learner_memory, learner_memory, learner_name,
                  memory_gib, _memory_quantity, 'GiB')
    actor_name = self.actor_machine_type
    actor = machines.machine(actor_name)
    if actor.gpus or actor.tpu_chips:
      raise LaunchError(f'--actor_machine_type={actor_name} is an accelerator machine; actors '
                        'run on CPUs.')
    pod_cpu, pod_memory = machines.pod_capacity(actor)
    per_cpu = cpu_cores(self.actor_cpu) if self.actor_cpu else ACTOR_CPU
    per_memory = memory_gib(self.actor_memory) if self.actor_memory else ACTOR_MEMORY_GIB
    fits = min(math.floor(pod_cpu / per_cpu + 1e-9), math.floor(pod_memory / per_memory + 1e-9))
    if fits < 1:
      raise LaunchError(
          f'one actor ({per_cpu:g} CPU, {per_memory:g} GiB) does not fit an {actor_name} node: '
          f'a pod there may request {pod_cpu:.2f} CPU and {pod_memory:.2f} GiB (GKE reserves '
          'part of every node; impala_tf/cloud/machines.py). Choose a larger '
          '--actor_machine_type or smaller --actor_cpu/--actor_memory.')
    per_pod = self.actors_per_pod or min(fits, self.actors)
    if per_pod > fits:
      raise LaunchError(
          f'--actors_per_pod={per_pod} needs {per_pod * per_cpu:g} CPU and '
          f'{per_pod * per_memory:g} GiB, but a pod on {actor_name} may request '
          f'{pod_cpu:.2f} CPU and {pod_memory:.2f} GiB: at most {fits} actors per pod.')
    pods = math.ceil(self.actors / per_pod)
    # Without explicit memory a pod holding the most actors takes the
    # node's whole share, so that they have room to spare.
    share = pod_memory / fits if not self.actor_memory else per_memory
    return Sizing(
        learner_machine=learner_name, learner_cpu=cpu, learner_memory=memory,
        actor_machine=actor_name, actors_per_pod=per_pod, actor_pods=pods,
        actor_pod_cpu=_cpu_quantity(per_pod * per_cpu),
        actor_pod_memory=_memory_quantity(per_pod * share),
        pods_per_node=fits // per_pod)


def _fit(flag, given, capacity, machine_name, parse, render, unit):
  """The request: `given` if it fits the machine's pod capacity, else a
  LaunchError; without one, the capacity."""
  if not given:
    return render(capacity)
  if parse(given) > capacity + 1e-9:
    raise LaunchError(f'--{flag}={given} does not fit {machine_name}: a pod there may request '
                      f'at most {capacity:.2f} {unit} (GKE reserves part of every node; '
                      'impala_tf/cloud/machines.py).')
  return given


def run_config(config: config_lib.ImpalaConfig, options: LaunchOptions):
  """The config the run executes: its actor count, the learner's strategy
  for its accelerator, and how long the learner waits for data."""
  changes = {'num_actors': options.actors,
             'learner_data_timeout_seconds': float(options.learner_data_timeout)}
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
