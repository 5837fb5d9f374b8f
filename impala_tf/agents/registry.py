"""The agents a run can choose, and the TensorFlow-free facts about each.

`config.architecture` names an entry here. Everything outside an agent's
package that needs to know about an agent asks this table: the launchers
(does it run actor processes?), config validation (which options does it
refuse, which section does it read, which checks are its own?), PBT (can its
entropy cost change?). Nothing else compares `architecture` with a name.

Adding an agent is a package under `impala_tf/agents/` and one entry below
(docs/agents.md, "Adding an agent"). Loading this module imports no agent
package and no TensorFlow; `make` imports the chosen agent's package.
"""

import dataclasses
import importlib
from typing import Optional, Tuple

from impala_tf.agents import hyperparameters


@dataclasses.dataclass(frozen=True)
class AgentInfo:
  """What the shared core knows about an agent without importing it.

  Attributes:
    name: the value of `config.architecture` that chooses it.
    agent: 'module:Class' of its `interface.Agent`.
    summary: one line for docs and errors.
    runs_actors: whether the launchers start actor processes (False: the
      learner acts itself).
    tables: the Reverb tables its learner serves beside the weights.
    refuses: ImpalaConfig fields it does not support: each must keep its
      default, else validation names it.
    validation: 'module' with `validate(config, error)`, the agent's own
      checks of a config that chooses it (TensorFlow-free), or None.
    section: the config section it reads (`config.<section>`), or None.
    fixed_entropy_cost: why its learner cannot change the entropy cost
      (PBT and the entropy schedule), or '' when it can.
    frames_per_step: 'batch' (a learner step trains on a batch of unrolls)
      or 'unroll' (one actor's unroll: A3C's gradient).
    batch_of: what `batch_size` counts: 'unrolls' (trajectories of whole
      actor unrolls, so a multiple of envs_per_actor) or 'sequences'
      (sampled from the agent's own replay).
    searchable: the hyperparameters a PBT population may evolve, with their
      default ranges (`interface.Agent.searchable`; the learner step's
      `hyperparameter_variables()` holds a variable of each).
  """
  name: str
  agent: str
  summary: str
  runs_actors: bool = True
  tables: Tuple[str, ...] = ()
  refuses: Tuple[str, ...] = ()
  validation: Optional[str] = None
  section: Optional[str] = None
  fixed_entropy_cost: str = ''
  frames_per_step: str = 'batch'
  batch_of: str = 'unrolls'
  searchable: Tuple[hyperparameters.Hyperparameter, ...] = ()


# What PBT may evolve in the V-trace learner step, with default ranges: the
# learning rate, entropy cost and ε of the IMPALA paper's Table D.1 (ε there
# is the categorical {1e-1, 1e-3, 1e-5, 1e-7}, here its span); the gradient
# clip's range is ours.
_LEARNING_RATE = hyperparameters.Hyperparameter('learning_rate', low=5e-6, high=5e-3)
_ENTROPY_COST = hyperparameters.Hyperparameter('entropy_cost', low=5e-5, high=1e-2)
_OPTIMIZER_EPSILON = hyperparameters.Hyperparameter('optimizer_epsilon', low=1e-7, high=1e-1)
_GRAD_CLIP_NORM = hyperparameters.Hyperparameter('grad_clip_norm', low=0.1, high=100.0)
_ACTOR_CRITIC = (_LEARNING_RATE, _ENTROPY_COST, _OPTIMIZER_EPSILON, _GRAD_CLIP_NORM)
# Without the entropy cost: fixed in A3C's actors, absent from R2D2's loss.
_NO_ENTROPY = (_LEARNING_RATE, _OPTIMIZER_EPSILON, _GRAD_CLIP_NORM)

# FTW's own (docs/ftw.md): the KL weights, τ (an integer) and the gradient
# the slow core passes back. The ranges are ours.
_FTW = (
    hyperparameters.Hyperparameter('kl_cost', low=1e-5, high=1e-1),
    hyperparameters.Hyperparameter('prior_cost', low=1e-6, high=1e-2),
    hyperparameters.Hyperparameter('slow_period', kind='integer', low=2, high=40),
    hyperparameters.Hyperparameter('fast_to_slow_gradient_scale', low=1e-3, high=1.0),
    # One weight per game point of Capture the Flag (13, ftw.event_weights).
    hyperparameters.Hyperparameter('event_weights', kind='vector', size=13, low=-1.0, high=1.0,
                                   log_scale=False),
)

# Learner options of the IMPALA loop that an agent with its own learner step
# does not implement.
_IMPALA_LEARNER_OPTIONS = ('synchronous', 'policy_lag', 'replay_fraction', 'popart',
                           'num_epochs', 'num_minibatches', 'observation_normalization')

AGENTS = {info.name: info for info in (
    AgentInfo(
        name='impala', agent='impala_tf.agents.impala.agent:ImpalaAgent',
        summary='IMPALA: actors send unrolls, the learner corrects them with V-trace '
                '(synchronous=true: batched A2C synchronous per trajectory)',
        tables=('trajectories', 'replay'),
        validation='impala_tf.agents.impala.validation', searchable=_ACTOR_CRITIC),
    AgentInfo(
        name='a3c', agent='impala_tf.agents.a3c.agent:A3CAgent',
        summary="distributed A3C: actors send the gradients of their own unrolls",
        tables=('gradients',),
        refuses=_IMPALA_LEARNER_OPTIONS + ('strategy', 'jit_compile'),
        fixed_entropy_cost='the actors compute the gradients with the entropy cost fixed in '
                           'their graph',
        frames_per_step='unroll', searchable=_NO_ENTROPY),
    AgentInfo(
        name='a2c_sync_step', agent='impala_tf.agents.a2c_sync_step.agent:SyncStepAgent',
        summary='batched A2C synchronous per step: the learner steps every environment '
                'in lockstep',
        runs_actors=False,
        refuses=('synchronous', 'replay_fraction', 'strategy', 'policy_lag'),
        validation='impala_tf.agents.a2c_sync_step.validation', searchable=_ACTOR_CRITIC),
    AgentInfo(
        name='r2d2', agent='impala_tf.agents.r2d2.agent:R2D2Agent',
        summary='R2D2: recurrent Q-learning from prioritised sequence replay',
        tables=('sequences', 'progress'),
        refuses=_IMPALA_LEARNER_OPTIONS + ('jit_compile', 'steps_per_call',
                                           'task_action_masks'),
        validation='impala_tf.agents.r2d2.validation', section='r2d2', batch_of='sequences',
        fixed_entropy_cost="R2D2's Q-learning loss has no entropy term",
        searchable=_NO_ENTROPY),
    AgentInfo(
        name='merlin', agent='impala_tf.agents.merlin.agent:MerlinAgent',
        summary='MERLIN: a memory-based predictor writes a latent per step to memory; its '
                'policy reads it, trained with V-trace',
        tables=('trajectories', 'replay'),
        refuses=('popart', 'observation_normalization', 'task_action_masks'),
        validation='impala_tf.agents.merlin.validation', section='merlin',
        searchable=_ACTOR_CRITIC),
    AgentInfo(
        name='ftw', agent='impala_tf.agents.ftw.agent:FtwAgent',
        summary="FTW's two-timescale agent: a slow core every tau steps gives the prior of "
                "the fast core's latent, trained with V-trace",
        tables=('trajectories', 'replay'),
        refuses=('popart', 'observation_normalization', 'task_action_masks'),
        validation='impala_tf.agents.ftw.validation', section='ftw',
        searchable=_ACTOR_CRITIC + _FTW),
)}

NAMES = tuple(AGENTS)

# Config sections: name -> 'module:Class' of a dataclass with `validate(error)`.
SECTIONS = {
    'r2d2': 'impala_tf.agents.r2d2.config:R2D2Config',
    'merlin': 'impala_tf.agents.merlin.config:MerlinConfig',
    'ftw': 'impala_tf.agents.ftw.config:FtwConfig',
}


def _load(path: str):
  module, _, name = path.partition(':')
  return getattr(importlib.import_module(module), name)


def info(name: str) -> AgentInfo:
  """The entry `name` chooses; ValueError naming the choices if none."""
  if name not in AGENTS:
    raise ValueError(f'architecture must be one of {NAMES}, got {name!r}.')
  return AGENTS[name]


def section_class(section: str):
  """The dataclass of config section `section` (TensorFlow-free)."""
  return _load(SECTIONS[section])


def validate(config, error):
  """The agent's refusals and its own checks, each one line naming a field."""
  entry = info(config.architecture)
  for name in entry.refuses:
    value = getattr(config, name)
    default = _field_default(type(config), name)
    if value != default:
      raise error(f'architecture={entry.name!r} does not support {name}={value!r}: '
                  f'leave it at its default ({default!r}); it is an option of the IMPALA '
                  'learner.')
  if entry.validation:
    importlib.import_module(entry.validation).validate(config, error)


def _field_default(cls, name):
  field = cls.__dataclass_fields__[name]
  if field.default is not dataclasses.MISSING:
    return field.default
  return field.default_factory()


def make(config):
  """The agent `config.architecture` names, built for `config`."""
  return _load(info(config.architecture).agent)(config)
