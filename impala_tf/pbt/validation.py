"""What a config must hold to run as a population member (the `pbt` section
checks its own fields, `pbt.config.PBTConfig.validate`).

The member controller and `binaries/pbt_local.py` call `check_member` before
a population starts. TensorFlow-free.
"""

from impala_tf.agents import registry


def check_member(config):
  """Raises ValueError when `config` cannot run as a population member."""
  entry = registry.info(config.architecture)
  if entry.fixed_entropy_cost and 'entropy_cost' in config.pbt.hyperparameters:
    raise ValueError('PBT cannot search entropy_cost with architecture='
                     f'{config.architecture!r}: {entry.fixed_entropy_cost}; drop it from '
                     'pbt.hyperparameters.')
  check_searchable(config, entry.searchable)
  check_fitness_scale(config)


def check_fitness_scale(config):
  """Raises ValueError when the tasks' returns would not be on one scale:
  references of the wrong count, or several non-Atari tasks without them
  (the task with the largest returns would decide every comparison)."""
  references = config.pbt.task_references
  if references and len(references) != config.num_tasks:
    raise ValueError(f'pbt.task_references gives {len(references)} (low, high) pair(s) for '
                     f'{config.num_tasks} task(s); give one per task, in the order of tasks.')
  if not references and config.num_tasks > 1 and not config.is_atari:
    raise ValueError(f'a population over {config.num_tasks} tasks needs '
                     'pbt.task_references, one (low, high) pair of reference returns per '
                     'task (e.g. random play and a target): without them the task with the '
                     'largest returns decides every comparison.')


def check_searchable(config, searchable):
  """Raises ValueError naming a searched hyperparameter, or a range, that the
  agent (`searchable`: its `interface.Hyperparameter`s) does not have."""
  names = [h.name for h in searchable]
  for field, name in ([('pbt.hyperparameters', n) for n in config.pbt.hyperparameters]
                      + [('pbt.ranges', r[0]) for r in config.pbt.ranges]):
    if name not in names:
      raise ValueError(f'{field}: architecture={config.architecture!r} cannot search '
                       f'{name!r}; its searchable hyperparameters are {tuple(names)}.')
