"""Machine shapes, what GKE leaves of them to pods, and what runs where.

Every pod of a GKE run is sized from the machine its node pool uses: GKE
reserves part of each node for the kubelet, the container runtime and the
operating system (its published formula, `gke_allocatable`), the system
DaemonSets (logging, metrics, networking, the CSI and GPU device plugins)
request some of the rest (`DAEMONSET_CPU`, `DAEMONSET_MEMORY_GIB`, a
margin), and a pod can request what remains. A request above that stays
Pending for ever, so explicit requests that do not fit are refused.

Sources (transcribed 2026-12-07; tests/data/gce_machines.json repeats the
shapes independently for the tests):
- shapes: https://cloud.google.com/compute/docs/general-purpose-machines,
  .../accelerator-optimized-machines, .../gpus (N1 attachments),
  https://cloud.google.com/tpu/docs/v5e, .../v6e, .../v5p, .../v4;
- reservations: https://cloud.google.com/kubernetes-engine/docs/concepts/
  plan-node-sizes ("Memory and CPU reservations").
GCE gives memory in GB meaning 2^30 bytes, GiB here.
"""

import dataclasses
import math
from typing import Dict, Optional, Tuple


@dataclasses.dataclass(frozen=True)
class Machine:
  name: str
  vcpus: int
  memory_gib: float
  gpus: int = 0             # GPUs built into the machine type (A2, A3, G2)
  gpu: str = ''             # their GKE accelerator label
  tpu_chips: int = 0


def _series(prefix, sizes, gib_per_vcpu):
  return {f'{prefix}-{n}': Machine(f'{prefix}-{n}', n, n * gib_per_vcpu) for n in sizes}


MACHINES: Dict[str, Machine] = {
    **_series('n2-standard', (2, 4, 8, 16, 32, 48, 64, 80, 96, 128), 4),
    **_series('n2-highcpu', (2, 4, 8, 16, 32, 48, 64, 80, 96), 1),
    **_series('e2-standard', (2, 4, 8, 16, 32), 4),
    **_series('c2-standard', (4, 8, 16, 30, 60), 4),
    **_series('n1-standard', (1, 2, 4, 8, 16, 32, 64, 96), 3.75),
    **{m.name: m for m in (
        Machine('g2-standard-4', 4, 16, 1, 'nvidia-l4'),
        Machine('g2-standard-8', 8, 32, 1, 'nvidia-l4'),
        Machine('g2-standard-12', 12, 48, 1, 'nvidia-l4'),
        Machine('g2-standard-16', 16, 64, 1, 'nvidia-l4'),
        Machine('g2-standard-24', 24, 96, 2, 'nvidia-l4'),
        Machine('g2-standard-32', 32, 128, 1, 'nvidia-l4'),
        Machine('g2-standard-48', 48, 192, 4, 'nvidia-l4'),
        Machine('g2-standard-96', 96, 384, 8, 'nvidia-l4'),
        Machine('a2-highgpu-1g', 12, 85, 1, 'nvidia-tesla-a100'),
        Machine('a2-highgpu-2g', 24, 170, 2, 'nvidia-tesla-a100'),
        Machine('a2-highgpu-4g', 48, 340, 4, 'nvidia-tesla-a100'),
        Machine('a2-highgpu-8g', 96, 680, 8, 'nvidia-tesla-a100'),
        Machine('a2-ultragpu-1g', 12, 170, 1, 'nvidia-a100-80gb'),
        Machine('a2-ultragpu-2g', 24, 340, 2, 'nvidia-a100-80gb'),
        Machine('a2-ultragpu-4g', 48, 680, 4, 'nvidia-a100-80gb'),
        Machine('a2-ultragpu-8g', 96, 1360, 8, 'nvidia-a100-80gb'),
        Machine('a3-highgpu-1g', 26, 234, 1, 'nvidia-h100-80gb'),
        Machine('a3-highgpu-2g', 52, 468, 2, 'nvidia-h100-80gb'),
        Machine('a3-highgpu-4g', 104, 936, 4, 'nvidia-h100-80gb'),
        Machine('a3-highgpu-8g', 208, 1872, 8, 'nvidia-h100-80gb'),
        Machine('ct5lp-hightpu-1t', 24, 48, tpu_chips=1),
        Machine('ct5lp-hightpu-4t', 112, 192, tpu_chips=4),
        Machine('ct5lp-hightpu-8t', 224, 384, tpu_chips=8),
        Machine('ct6e-standard-1t', 44, 448, tpu_chips=1),
        Machine('ct6e-standard-4t', 180, 720, tpu_chips=4),
        Machine('ct6e-standard-8t', 180, 1440, tpu_chips=8),
        Machine('ct5p-hightpu-4t', 208, 448, tpu_chips=4),
        Machine('ct4p-hightpu-4t', 240, 407, tpu_chips=4),
    )},
}

# GPUs attached to N1 machines (not built in): how many one VM takes, and
# the most vCPUs an N1 machine may have with that many.
N1_ATTACHABLE: Dict[str, Dict[int, int]] = {
    'nvidia-tesla-t4': {1: 48, 2: 48, 4: 96},
    'nvidia-tesla-v100': {1: 12, 2: 24, 4: 48, 8: 96},
}

# What GKE's system DaemonSets request on a node, at most, beside a pod
# (kube-proxy or Dataplane V2's agent, logging and metrics agents, the
# persistent-disk CSI driver, the GPU device plugin): a margin, not a
# measurement. `kubectl describe node` shows a cluster's own figure.
DAEMONSET_CPU = 0.4
DAEMONSET_MEMORY_GIB = 1.0
# GKE's eviction threshold, reserved on every node.
EVICTION_GIB = 0.1


def machine(name: str) -> Machine:
  """The machine type `name`; a ValueError names the known families."""
  if name not in MACHINES:
    families = sorted({m.rsplit('-', 1)[0] for m in MACHINES})
    raise ValueError(f'unknown machine type {name!r}; known: {", ".join(families)} '
                     '(impala_tf/cloud/machines.py).')
  return MACHINES[name]


def _tiers(amount, tiers):
  """Σ rate × the part of `amount` in each (upper bound, rate) tier."""
  reserved, below = 0.0, 0.0
  for upper, rate in tiers:
    reserved += rate * max(0.0, min(amount, upper) - below)
    below = upper
  return reserved


def gke_allocatable(m: Machine) -> Tuple[float, float]:
  """(CPU cores, memory GiB) a GKE node of machine `m` offers to pods:
  capacity less GKE's published reservations. CPU: 6 % of the first core,
  1 % of the next, 0.5 % of the next two, 0.25 % of the rest. Memory: 25 %
  of the first 4 GiB, 20 % of the next 4, 10 % of the next 8, 6 % of the
  next 112, 2 % above 128 GiB (255 MiB on machines under 1 GiB), and the
  100 MiB eviction threshold."""
  cpu = m.vcpus - _tiers(m.vcpus, ((1, 0.06), (2, 0.01), (4, 0.005), (math.inf, 0.0025)))
  if m.memory_gib < 1:
    memory_reserved = 255 / 1024
  else:
    memory_reserved = _tiers(m.memory_gib, ((4, 0.25), (8, 0.20), (16, 0.10), (128, 0.06),
                                            (math.inf, 0.02)))
  return cpu, m.memory_gib - memory_reserved - EVICTION_GIB


def pod_capacity(m: Machine) -> Tuple[float, float]:
  """(CPU cores, memory GiB) one pod may request on a node of `m`: the
  allocatable share less the DaemonSets' margin."""
  cpu, memory = gke_allocatable(m)
  return cpu - DAEMONSET_CPU, memory - DAEMONSET_MEMORY_GIB


def n1_gpu_problem(m: Machine, gpu: str, count: int) -> Optional[str]:
  """Why `count` GPUs of type `gpu` cannot be attached to N1 machine `m`
  (None: they can)."""
  limits = N1_ATTACHABLE.get(gpu)
  if limits is None:
    return f'{gpu} is not attached to N1 machines'
  if count not in limits:
    return f'an N1 machine takes {", ".join(map(str, limits))} {gpu} GPUs, not {count}'
  if m.vcpus > limits[count]:
    return f'{count} {gpu} GPUs allow at most {limits[count]} vCPUs, {m.name} has {m.vcpus}'
  return None
