"""Which role a process plays in a cloud run, from its platform's environment.

A container of a cloud run learns three things at start-up: whether it is
the learner or an actor, its actor index (the `--task` that seeds its
environments), and the learner's address. Each platform says so differently:

- GKE (our manifests): `IMPALA_TF_ROLE` is `learner` or `actor`; an actor
  takes its index from `JOB_COMPLETION_INDEX`, which Kubernetes sets in
  each pod of an Indexed Job, and the learner's address (the Service's
  name and port) from `IMPALA_TF_LEARNER_ADDRESS`.
- Vertex AI: `CLUSTER_SPEC` is JSON, `{"cluster": {"workerpool0": [addr],
  "workerpool1": [addr, ...]}, "task": {"type": "workerpool1", "index": i}}`.
  Pool 0 is the learner, pool 1 the actors; the learner listens on its own
  address's port.
- `TF_CONFIG` (Vertex sets it too; other TF launchers use it): `chief` or
  `master` is the learner, `worker` the actors.

They are tried in that order: an explicit role wins over what a platform
sets around it.

Actors are packed several to a pod or replica: with
`IMPALA_TF_ACTORS_PER_POD`=k and `IMPALA_TF_NUM_ACTORS`=N (both set by our
renders), the container of index i runs actor processes k·i .. k·i+k−1, the
last one only up to N−1.

In a PBT population (a GKE JobSet with one learner Job and one actors Job
per member), `IMPALA_TF_MEMBER` is the member the container belongs to (the
JobSet's job index), `IMPALA_TF_POPULATION` the population's size and
`IMPALA_TF_SEED` the preset's seed (member m runs with seed + m, as
pbt_local.py does); `{member}` in the learner's address becomes m.
"""

import dataclasses
import json
from typing import Mapping, Optional, Tuple

ROLE_VARIABLE = 'IMPALA_TF_ROLE'
LEARNER_ADDRESS_VARIABLE = 'IMPALA_TF_LEARNER_ADDRESS'
INDEX_VARIABLE = 'JOB_COMPLETION_INDEX'
ACTORS_PER_POD_VARIABLE = 'IMPALA_TF_ACTORS_PER_POD'
NUM_ACTORS_VARIABLE = 'IMPALA_TF_NUM_ACTORS'
MEMBER_VARIABLE = 'IMPALA_TF_MEMBER'
POPULATION_VARIABLE = 'IMPALA_TF_POPULATION'
SEED_VARIABLE = 'IMPALA_TF_SEED'
MEMBER_PLACEHOLDER = '{member}'

LEARNER = 'learner'
ACTOR = 'actor'
_VERTEX_POOLS = {'workerpool0': LEARNER, 'workerpool1': ACTOR}
_TF_CONFIG_TYPES = {'chief': LEARNER, 'master': LEARNER, 'worker': ACTOR}


class RoleError(ValueError):
  """The environment does not say which role this process plays."""


@dataclasses.dataclass(frozen=True)
class Role:
  """What this process is.

  Attributes:
    kind: 'learner' or 'actor'.
    index: the container's index among the actor pods or replicas; 0 for
      the learner.
    learner_address: HOST:PORT of the learner's Reverb server. For the
      learner itself, its own address: the learner listens on its port.
    source: which variable it came from (for the log line).
    tasks: the actor processes this container runs (their --task); () for
      the learner.
    member: the PBT member this container belongs to, or None outside a
      population (then `population` and `seed` are unused).
    population: the population's size.
    seed: the preset's seed (member m runs with seed + m).
  """
  kind: str
  index: int
  learner_address: str
  source: str
  tasks: Tuple[int, ...] = ()
  member: Optional[int] = None
  population: int = 0
  seed: int = 0

  @property
  def port(self) -> int:
    return int(self.learner_address.rsplit(':', 1)[1])


def _address(value: str, what: str) -> str:
  host, sep, port = value.rpartition(':')
  if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
    raise RoleError(f'{what} must be HOST:PORT, got {value!r}.')
  return value


def _index(value, what: str) -> int:
  try:
    index = int(value)
  except (TypeError, ValueError):
    raise RoleError(f'{what} must be a non-negative integer, got {value!r}.') from None
  if index < 0:
    raise RoleError(f'{what} must be a non-negative integer, got {value!r}.')
  return index


def _from_explicit(environ) -> Role:
  kind = environ[ROLE_VARIABLE]
  if kind not in (LEARNER, ACTOR):
    raise RoleError(f'{ROLE_VARIABLE} must be {LEARNER!r} or {ACTOR!r}, got {kind!r}.')
  if LEARNER_ADDRESS_VARIABLE not in environ:
    raise RoleError(f'{ROLE_VARIABLE}={kind} needs {LEARNER_ADDRESS_VARIABLE} (HOST:PORT).')
  address = _address(environ[LEARNER_ADDRESS_VARIABLE], LEARNER_ADDRESS_VARIABLE)
  if kind == LEARNER:
    return Role(LEARNER, 0, address, ROLE_VARIABLE)
  if INDEX_VARIABLE not in environ:
    raise RoleError(f'{ROLE_VARIABLE}=actor needs {INDEX_VARIABLE} (set by an Indexed Job).')
  return Role(ACTOR, _index(environ[INDEX_VARIABLE], INDEX_VARIABLE), address, ROLE_VARIABLE)


def _parse_json(environ, name):
  try:
    spec = json.loads(environ[name])
  except json.JSONDecodeError as e:
    raise RoleError(f'{name} is not valid JSON: {e}.') from None
  if not isinstance(spec, dict) or not isinstance(spec.get('cluster'), dict) or (
      not isinstance(spec.get('task'), dict)):
    raise RoleError(f'{name} must be an object with "cluster" and "task" objects.')
  return spec


def _from_cluster(spec, name, kinds, learner_pools) -> Role:
  """A role from a CLUSTER_SPEC or TF_CONFIG object (same shape)."""
  cluster, task = spec['cluster'], spec['task']
  task_type = task.get('type')
  if task_type not in kinds:
    raise RoleError(f'{name}: task type {task_type!r} is not one of {sorted(kinds)}; this '
                    'image runs a learner pool and an actor pool only.')
  learners = [address for pool in learner_pools for address in cluster.get(pool) or []]
  if len(learners) != 1:
    raise RoleError(f'{name}: the cluster must have exactly one learner (in '
                    f'{" or ".join(learner_pools)}), found {len(learners)}.')
  address = _address(learners[0], f'{name}\'s learner address')
  index = _index(task.get('index', 0), f'{name}\'s task index')
  pool = cluster.get(task_type) or []
  if index >= len(pool):
    raise RoleError(f'{name}: task index {index} is out of range for {task_type!r}, which has '
                    f'{len(pool)} replicas.')
  kind = kinds[task_type]
  return Role(kind, index if kind == ACTOR else 0, address, name)


def _with_member(role: Role, environ) -> Role:
  """The PBT member of a population's container (see the module docstring)."""
  if MEMBER_VARIABLE not in environ:
    if MEMBER_PLACEHOLDER in role.learner_address:
      raise RoleError(f'the learner address {role.learner_address!r} names a member; set '
                      f'{MEMBER_VARIABLE}.')
    return role
  member = _index(environ[MEMBER_VARIABLE], MEMBER_VARIABLE)
  population = _index(environ.get(POPULATION_VARIABLE), POPULATION_VARIABLE)
  if not member < population:
    raise RoleError(f'{MEMBER_VARIABLE}={member} is not a member of a population of '
                    f'{population} ({POPULATION_VARIABLE}).')
  seed = _index(environ.get(SEED_VARIABLE), SEED_VARIABLE)
  return dataclasses.replace(
      role, member=member, population=population, seed=seed,
      learner_address=role.learner_address.replace(MEMBER_PLACEHOLDER, str(member)))


def _with_tasks(role: Role, environ) -> Role:
  """The actor processes of an actor container (see the module docstring)."""
  role = _with_member(role, environ)
  if role.kind != ACTOR:
    return role
  per_pod = _index(environ.get(ACTORS_PER_POD_VARIABLE, '1'), ACTORS_PER_POD_VARIABLE)
  if per_pod < 1:
    raise RoleError(f'{ACTORS_PER_POD_VARIABLE} must be at least 1, got {per_pod}.')
  first = role.index * per_pod
  total = (_index(environ[NUM_ACTORS_VARIABLE], NUM_ACTORS_VARIABLE)
           if NUM_ACTORS_VARIABLE in environ else first + per_pod)
  tasks = tuple(range(first, min(first + per_pod, total)))
  if not tasks:
    raise RoleError(f'actor container {role.index} with {per_pod} actors per container has '
                    f'no actor of the run\'s {total} ({NUM_ACTORS_VARIABLE}).')
  return dataclasses.replace(role, tasks=tasks)


def resolve(environ: Mapping[str, str]) -> Role:
  """The role of this process, from `environ` (normally `os.environ`).

  Raises:
    RoleError: naming the variable that is missing or malformed.
  """
  if ROLE_VARIABLE in environ:
    return _with_tasks(_from_explicit(environ), environ)
  if 'CLUSTER_SPEC' in environ:
    return _with_tasks(_from_cluster(_parse_json(environ, 'CLUSTER_SPEC'), 'CLUSTER_SPEC',
                                     _VERTEX_POOLS, ['workerpool0']), environ)
  if 'TF_CONFIG' in environ:
    return _with_tasks(_from_cluster(_parse_json(environ, 'TF_CONFIG'), 'TF_CONFIG',
                                     _TF_CONFIG_TYPES, ['chief', 'master']), environ)
  raise RoleError(f'cannot tell this process\'s role: set {ROLE_VARIABLE} (with '
                  f'{LEARNER_ADDRESS_VARIABLE} and, for an actor, {INDEX_VARIABLE}), or run '
                  'under Vertex AI (CLUSTER_SPEC) or a TF_CONFIG launcher.')


def describe(role: Role) -> str:
  """One line for the log: who this process is and where that came from."""
  member = '' if role.member is None else f' of member {role.member}'
  if role.kind == LEARNER:
    return f'learner{member} on port {role.port} (from {role.source})'
  tasks = (f'actor {role.tasks[0]}' if len(role.tasks) == 1 else
           f'actors {role.tasks[0]}-{role.tasks[-1]}')
  return (f'{tasks}{member} (container {role.index}), learner at {role.learner_address} (from '
          f'{role.source})')
