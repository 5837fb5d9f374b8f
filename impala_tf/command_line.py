"""What every binary checks before it starts anything, and how it says no.

`run(main)` replaces `absl.app.run(main)`. Before absl parses the flags it
refuses a `--config.FIELD=VALUE` whose field `ImpalaConfig` does not have,
naming the nearest fields (ml_collections would end in a `KeyError`
traceback). A `ConfigError` raised by `main` ends the process with one line
on stderr and exit status 2: no traceback, no usage text, nothing started.

`validated(config)` validates a config and checks that every environment
id it names is registered, so a typo in a game's name fails at once rather
than in the actors ten seconds into the run.
"""

import dataclasses
import difflib
import importlib
import sys

from absl import app

from impala_tf import bsuite_envs
from impala_tf import config as config_lib
from impala_tf import exit_codes
from impala_tf.pbt import validation as pbt_validation

EXIT_STATUS = exit_codes.USAGE
LIST_ENVS = ('python -c "import gymnasium as gym, ale_py; gym.register_envs(ale_py); '
             'print(*gym.registry, sep=chr(10))"')


def fail(message: str):
  """Ends the process with `message` as one line on stderr."""
  print(f'error: {message}', file=sys.stderr, flush=True)
  sys.exit(EXIT_STATUS)


def _field_problem(path, arg):
  """Why the dotted field `path` (`r2d2.n_step`) names no config field, or
  None. Sections are dataclasses inside `ImpalaConfig`."""
  cls, walked = config_lib.ImpalaConfig, []
  for name in path.split('.'):
    if not dataclasses.is_dataclass(cls):
      return f'{".".join(walked)} has no fields; {arg!r} sets one.'
    types = {f.name: f for f in dataclasses.fields(cls)}
    if name not in types:
      where = '.'.join(walked)
      legacy = config_lib.legacy_names().get(name) if not walked else None
      if legacy:
        return (f'config field {name!r} in {arg!r} has moved into a section: use '
                f'--config.{legacy}' + ('=((NAME, LOW, HIGH), ...)' if legacy.endswith(
                    'ranges') else '=VALUE') + '.')
      nearest = difflib.get_close_matches(name, list(types), n=3, cutoff=0.6)
      full = lambda n: f'{where}.{n}' if where else n
      hint = (f'did you mean {" or ".join(full(n) for n in nearest)}?' if nearest else
              'the fields are listed in impala_tf/config.py and its sections.')
      return f'unknown config field {full(name)!r} in {arg!r}: {hint}'
    walked.append(name)
    field = types[name]
    cls = (field.default_factory() if field.default_factory is not dataclasses.MISSING
           else field.default)
    cls = type(cls) if dataclasses.is_dataclass(cls) else None
  return None


def unknown_override(argv):
  """The message for the first `--config.FIELD` (or `--config.SECTION.FIELD`)
  in `argv` that names no field of `ImpalaConfig`, or None."""
  for arg in argv[1:]:
    if arg == '--':
      break
    if not arg.startswith('--config.'):
      continue
    problem = _field_problem(arg[len('--config.'):].split('=', 1)[0], arg)
    if problem:
      return problem
  return None


def check_env_ids(task_ids):
  """Raises ConfigError naming the first id gymnasium does not know."""
  import gymnasium as gym  # pylint: disable=g-import-not-at-top
  if any(i.startswith('ALE/') for i in task_ids):
    import ale_py  # pylint: disable=g-import-not-at-top
    gym.register_envs(ale_py)
  for env_id in task_ids:
    if bsuite_envs.is_bsuite(env_id):
      try:
        bsuite_envs.bsuite_id(env_id)
      except ValueError as e:
        raise config_lib.ConfigError(str(e)) from e
      continue
    module, _, name = env_id.rpartition(':')
    if module:
      # gymnasium's 'module:Id': the module registers the id when imported.
      try:
        importlib.import_module(module)
      except ImportError as e:
        raise config_lib.ConfigError(
            f'environment id {env_id!r} needs module {module!r}, which cannot be imported: '
            f'{e}') from e
      env_id = name
    if env_id not in gym.registry:
      nearest = difflib.get_close_matches(env_id, list(gym.registry), n=3, cutoff=0.6)
      hint = f'did you mean {" or ".join(nearest)}? ' if nearest else ''
      raise config_lib.ConfigError(
          f'unknown environment id {env_id!r}; {hint}list the valid ids with: {LIST_ENVS}')


def validated(config):
  """`config.validate()`, then its environment ids checked; returns it."""
  config.validate()
  check_env_ids(config.task_ids)
  return config


def validated_member(config):
  """`config` as a PBT population member would run it: `validated`, and
  what a member needs (`pbt.validation.check_member`: searchable
  hyperparameters the agent has), refused as a ConfigError before anything
  starts rather than as a traceback from a learner already serving."""
  validated(config)
  try:
    pbt_validation.check_member(config)
  except ValueError as e:
    raise config_lib.ConfigError(str(e)) from e
  return config


def validated_run(config, pbt_dir, pbt_member):
  """`config` for a learner (learner.py, train_local.py): with `pbt_dir`,
  checked as a population member's (`validated_member`), else `validated`.
  --pbt_dir without --pbt_member, or the reverse, ends the process with one
  line."""
  if (pbt_dir is None) != (pbt_member is None):
    fail('--pbt_dir and --pbt_member go together.')
  return validated_member(config) if pbt_dir else validated(config)


def run(main, argv=None):
  """`app.run(main)` with the config checks above."""
  argv = sys.argv if argv is None else argv
  problem = unknown_override(argv)
  if problem:
    fail(problem)

  def guarded(args):
    try:
      return main(args)
    except config_lib.ConfigError as e:
      fail(f'invalid config: {e}')

  app.run(guarded, argv=argv)
