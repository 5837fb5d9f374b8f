"""impala_tf: IMPALA and V-trace for TensorFlow 2 / Keras, on Reverb.

Names load on first use (PEP 562), so importing one light module (the config,
the command-line checks) does not import TensorFlow and tf-agents.

Importing the package sets TF_ENABLE_ONEDNN_OPTS=1 unless it is set, before
TensorFlow loads: see cpu_kernels.
"""

import importlib

from impala_tf import cpu_kernels as _cpu_kernels

_cpu_kernels.default_to_onednn()

_MODULES = ('atari_scores', 'distributions', 'losses', 'popart', 'vtrace')
_NAMES = {
    'Actor': 'actor',
    'run_actor': 'actor',
    'CheckpointError': 'checkpoints',
    'ConfigError': 'config',
    'ImpalaConfig': 'config',
    'load_config_file': 'config',
    'make_env': 'environments',
    'evaluate': 'evaluation',
    'export_from_checkpoint': 'export',
    'export_policy': 'export',
    'ImpalaPolicy': 'export',
    'SavedModelError': 'export',
    'GraphPolicy': 'graph_policy',
    'LocalLauncher': 'launcher',
    'Learner': 'learner',
    'run_learner': 'learner',
    'ImpalaNetwork': 'networks',
    'make_network': 'networks',
    'NetworkInput': 'networks',
    'NetworkOutput': 'networks',
    'Adam': 'optimizers',
    'make_optimizer': 'optimizers',
    'RMSProp': 'optimizers',
    'TrainStep': 'train_step',
}

__all__ = sorted(_MODULES + tuple(_NAMES))


def __getattr__(name):
  if name in _MODULES:
    return importlib.import_module(f'impala_tf.{name}')
  if name in _NAMES:
    return getattr(importlib.import_module(f'impala_tf.{_NAMES[name]}'), name)
  raise AttributeError(f'module {__name__!r} has no attribute {name!r}')


def __dir__():
  return __all__
