r"""Population Based Training on this machine: N members, each a learner with its actors.

  python binaries/pbt_local.py --config=configs/cartpole_pbt.py --population=4 \
      --logdir=runs/pbt [--config.FIELD=VALUE ...] [--member_override=0:learning_rate=1e-7]

Every member trains the preset (seed + its index) and takes part in the
population through `<logdir>/population`. Prints a progress line per
interval and ends with one JSON line: population, best_member,
best_episode_return_mean, exploits, explores. Ctrl-C stops every member
(each leaves a checkpoint); run it again on the same --logdir to resume.
"""

import json
import os
import sys

from absl import app
from absl import flags
from ml_collections import config_flags

from impala_tf import command_line
from impala_tf import config as config_lib
from impala_tf import launcher
from impala_tf.pbt import local

_CONFIG = config_flags.DEFINE_config_file('config', None, 'Preset file (configs/*.py).')
_POPULATION = flags.DEFINE_integer('population', 4, 'Members in the population.')
_LOGDIR = flags.DEFINE_string('logdir', None, 'Run directory; an existing one is resumed.')
_MEMBER_OVERRIDES = flags.DEFINE_multi_string(
    'member_override', [], 'MEMBER:FIELD=VALUE, a config override for one member only '
    '(its starting hyperparameters are then the config\'s, not sampled).')
_ISOLATE = flags.DEFINE_boolean('isolate_network', True,
                                'Run the population in a private network namespace.')
flags.mark_flags_as_required(['config', 'logdir'])

_HERE = os.path.dirname(os.path.abspath(__file__))


def main(argv):
  del argv
  config = _CONFIG.value
  command_line.validated_member(config)
  if _POPULATION.value < 2:
    raise app.UsageError(f'--population must be at least 2, got {_POPULATION.value}.')
  member_overrides = {}
  for item in _MEMBER_OVERRIDES.value:
    member, _, override = item.partition(':')
    if not member.isdigit() or '=' not in override or int(member) >= _POPULATION.value:
      raise app.UsageError(f'--member_override must be MEMBER:FIELD=VALUE with MEMBER < '
                           f'{_POPULATION.value}, got {item!r}.')
    member_overrides.setdefault(int(member), ['--config.pbt.sample_initial=false']).append(
        f'--config.{override}')
  if _ISOLATE.value:
    try:
      launcher.reexec_in_private_network_namespace(sys.argv)
    except launcher.IsolationError as e:
      raise app.UsageError(str(e)) from e
  # Every member starts from the same resolved preset file.
  os.makedirs(_LOGDIR.value, exist_ok=True)
  preset = os.path.join(os.path.abspath(_LOGDIR.value), 'preset.py')
  config_lib.write_config_file(config, preset)
  result = local.PopulationRun(
      preset, _POPULATION.value, _LOGDIR.value, os.path.join(_HERE, 'train_local.py'),
      member_overrides=member_overrides, seed=config.seed).run()
  print(json.dumps(result))


def run():
  command_line.run(main)


if __name__ == '__main__':
  run()
