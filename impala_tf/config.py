"""The one configuration object of an IMPALA run.

Defaults are the paper's Atari settings (Espeholt et al. 2018, Table G.1)
unless a comment says otherwise. Presets in `configs/` return an
`ImpalaConfig`; binaries accept `--config=configs/NAME.py` and override any
field with `--config.FIELD=VALUE`, or a section's with
`--config.SECTION.FIELD=VALUE` (`pbt`, and one per agent with hyperparameters
of its own, e.g. `r2d2`; docs/agents.md). `validate()` is called on
construction and again by every entry point (command-line overrides bypass
`__post_init__`).
"""

import dataclasses
import math
import os
from typing import Tuple

from impala_tf import architecture_checks
from impala_tf import batch_checks
from impala_tf import environment_checks
from impala_tf import field_checks
from impala_tf import learning_checks
from impala_tf import choices
from impala_tf.agents import registry
from impala_tf.pbt import config as pbt_config


class ConfigError(ValueError):
  """An invalid configuration value; the message names the field."""


class ImpalaConfig:
  """Every hyperparameter of an IMPALA run."""

  # --- Environment -----------------------------------------------------------
  # A gymnasium id. Ids starting with 'ALE/' (e.g. 'ALE/Pong-v5') run on
  # ale_py.AtariVectorEnv with the paper's preprocessing; anything else runs
  # through gymnasium's vector API.
  env_id: str = 'ALE/Pong-v5'
  # Agent steps per environment step: Atari frame skip (with max-pooling of
  # the last two frames). Frames are counted as agent steps × action_repeat.
  action_repeat: int = 4
  # Atari: number of stacked grayscale 84×84 frames (paper §5.2, Mnih 2015).
  frame_stack: int = 4
  # Atari: up to this many no-op actions at episode start (Mnih et al. 2015).
  noop_max: int = 30
  # Atari: probability of repeating the previous action (Machado et al. 2017
  # recommend 0.25; the paper and AtariVectorEnv's default use 0.0).
  sticky_action_probability: float = 0.0
  # Atari: episode cap in frames (108,000 frames = 30 minutes of play).
  max_episode_frames: int = 108_000
  # Gymnasium envs: truncate episodes after this many agent steps (0: the
  # env's registered limit, e.g. 500 for CartPole-v1).
  max_episode_steps: int = 0
  # Atari: the full 18-action set for every game (needed when one policy
  # serves several games) instead of each game's minimal set.
  full_action_space: bool = False
  # Atari with full_action_space: each task's policy over its game's minimal
  # action set only (the other logits masked out).
  task_action_masks: bool = False
  # Atari: a lost life is terminal for learning (no bootstrapping across it,
  # paper Table G.1) while the game goes on; reported returns stay whole games.
  episodic_life: bool = False
  # Gymnasium envs with a flat Box observation: indices of its components to
  # hide from the agent (removed), making the task partially observable;
  # e.g. (1, 3) leaves CartPole-v1 its positions without their velocities.
  hidden_observation_components: Tuple[int, ...] = ()
  # Gymnasium envs with a Dict observation: the key of the Box the agent
  # sees (MiniGrid: 'image', its 7×7×3 symbolic view of the grid).
  observation_key: str = ''
  # 'auto': uint8 observations are pixels, scaled to [0, 1]; others float32.
  # 'float32': observations are numbers, fed unscaled as float32 (MiniGrid's
  # uint8 image holds object, colour and state codes, not intensities).
  observation_dtype: str = 'auto'

  # --- Tasks (multi-task training, Hessel et al. 2019) ----------------------
  # Empty: one task, env_id. Otherwise the gymnasium ids of the tasks; all
  # must share observation and action spaces (Atari: full_action_space).
  # The same id may appear twice (e.g. with different reward scales).
  tasks: Tuple[str, ...] = ()
  # Per task, a factor on its rewards (empty: all 1), e.g. to make tasks of
  # very different reward scales out of one environment.
  task_reward_scales: Tuple[float, ...] = ()

  # --- Actors -----------------------------------------------------------------
  # Actor processes the local launcher starts.
  num_actors: int = 2
  # Environments each actor steps as one vectorised batch.
  envs_per_actor: int = 16
  # Threads an Atari vector env may use inside one actor (0: one per env).
  env_threads: int = 1

  # --- Unrolls and batches (paper Table G.1) ----------------------------------
  # T: agent steps per unroll; actors send T+1 observations, overlapping the
  # next unroll by one step so every step is bootstrapped.
  unroll_length: int = 20
  # B: trajectories per learner batch. Must be a multiple of envs_per_actor,
  # because each queue item is one actor's [T+1, envs_per_actor] unroll.
  batch_size: int = 32
  # Queue capacity in items (unrolls of envs_per_actor trajectories). Writers
  # block when it is full, which bounds memory and policy lag.
  queue_capacity: int = 8
  # True: actors wait for the update that consumes their data (zero policy
  # lag): the synchronous batched A2C baseline of the paper's comparisons.
  # Requires num_actors * envs_per_actor == batch_size.
  synchronous: bool = False
  # 'impala': actors send trajectories, the learner corrects with V-trace.
  # 'a3c': the paper's distributed A3C baseline: each actor computes the
  # loss's gradients on its own fresh unroll and sends only those; the
  # learner applies them one by one as they arrive (impala_tf.a3c).
  # 'a2c_sync_step': batched A2C synchronous per step: one process steps all
  # num_actors × envs_per_actor environments in lockstep with one batched
  # forward pass per step, and trains every T steps (impala_tf.sync_step).
  # (Batched A2C synchronous per trajectory is synchronous=true.)
  architecture: str = 'impala'
  # ≥ 0: act with the weights of exactly this many learner updates ago
  # (with synchronous=true, so no queueing adds to it): the fixed policy lag
  # of the paper's correction comparisons. -1: whatever the system gives.
  policy_lag: int = -1

  # --- Network (paper Fig. 3) -------------------------------------------------
  # 'mlp' (vector observations), 'shallow' (2 conv layers, paper Fig. 3),
  # 'nature' (3 conv layers, the DQN/A2C/PPO network; set torso_output_size
  # to 512 for the original) or 'resnet' (15 conv layers in 3 residual
  # sections, paper Fig. 3).
  torso: str = 'shallow'
  # Hidden layer sizes of the 'mlp' torso.
  mlp_hidden_sizes: Tuple[int, ...] = (64, 64)
  # Units of the fully connected layer after the conv torsos (paper: 256;
  # the Nature network: 512).
  torso_output_size: int = 256
  # Add the LSTM core fed the torso output, the one-hot previous action and
  # the clipped previous reward (paper Fig. 3). Off for Atari here: the
  # feed-forward agent learns Pong and runs faster on a CPU.
  use_lstm: bool = False
  lstm_units: int = 256
  # Weight initialisation. 'glorot_uniform': Keras' default. 'orthogonal':
  # orthogonal matrices with gain √2 for ReLU layers, 0.01 for the policy
  # head (a near-uniform initial policy) and 1 for the baseline head, as in
  # the A2C/PPO Atari recipes (OpenAI baselines). Biases start at 0.
  initializer: str = 'glorot_uniform'
  # Normalise observations by running per-element mean and variance (learnt
  # by the learner from the data it trains on, sent to actors with the
  # weights), clipped to ±5; see networks.ObservationNormalizer.
  observation_normalization: bool = False
  # With several tasks, each task's observations keep their own statistics.
  observation_normalization_per_task: bool = True

  # --- Loss (paper §4.2, Table G.1) ---------------------------------------------
  discount: float = 0.99
  # Off-policy correction: vtrace | one_step_is | epsilon_correction |
  # no_correction (paper Table 2).
  correction: str = 'vtrace'
  # V-trace truncation levels ρ̄, ρ̄_pg and c̄; `inf` turns one off. The paper
  # uses ρ̄ = c̄ = 1 and requires ρ̄ ≥ c̄. ρ̄_pg also truncates one_step_is's
  # importance weight (§5.2.2 clips it at 1 too).
  clip_rho_threshold: float = 1.0
  clip_pg_rho_threshold: float = 1.0
  clip_c_threshold: float = 1.0
  baseline_cost: float = 0.5
  entropy_cost: float = 0.01
  # The entropy cost's schedule: constant, or linear | cosine decay to
  # entropy_end_factor × entropy_cost from entropy_decay_start_frames to
  # lr_decay_frames (the full cost before, the end factor after).
  entropy_schedule: str = 'constant'
  entropy_end_factor: float = 0.0
  entropy_decay_start_frames: int = 0
  # abs_one (Atari) | soft_asymmetric (DMLab) | none. Applied in the loss only:
  # reported episode returns are the environment's own scores.
  reward_clipping: str = 'abs_one'
  # λ of V-trace's trace coefficients c_s = λ min(c̄, ρ_s); 1 is the paper's.
  vtrace_lambda: float = 1.0
  # PopArt (van Hasselt et al. 2016; Hessel et al. 2019): per-task adaptive
  # normalisation of the value targets, the baseline predicting normalised
  # values and the advantages divided by the task's σ. With it, rewards of
  # any scale can be used unclipped (reward_clipping='none').
  popart: bool = False
  # β of the statistics' moving averages, per value target (the papers'
  # 3e-4): a batch with n targets of a task moves its μ and σ² as n such
  # steps would, by 1 − (1 − β)^n; the time constant is 1/β targets
  # whatever the batch size. Updated once per batch, from its first pass.
  popart_step_size: float = 3e-4
  # Bounds on σ, the square root of the running variance of the targets.
  popart_sigma_min: float = 1e-4
  popart_sigma_max: float = 1e6
  # 'sum' over time and batch (the paper's implementation; Table G.1's
  # learning rate assumes it) or 'mean' over the real transitions (A2C/PPO
  # convention: the gradient's scale does not depend on the batch size).
  loss_reduction: str = 'sum'
  # Normalise the policy-gradient advantages to zero mean and unit variance
  # over each (mini)batch, as PPO and APPO do.
  advantage_normalization: bool = False
  # > 0: PPO's clipped surrogate with this ε replaces the ρ-weighted policy
  # gradient (APPO); it keeps several passes over a batch from overshooting.
  # 0: the paper's policy gradient. Needs correction='vtrace'.
  ppo_clip: float = 0.0

  # --- Optimiser (paper Table G.1) --------------------------------------------
  # 'rmsprop' or 'adam' (see impala_tf.optimizers).
  optimizer: str = 'rmsprop'
  # Base learning rate; the schedule below multiplies it.
  learning_rate: float = 0.0006
  # RMSProp as the paper's implementation (TF1) had it: ε inside the square
  # root and the mean square starting at 1. The A2C recipe (PyTorch
  # convention): ε outside, starting at 0.
  rmsprop_decay: float = 0.99
  rmsprop_epsilon: float = 0.01
  rmsprop_momentum: float = 0.0
  rmsprop_epsilon_inside_sqrt: bool = True
  rmsprop_initial_mean_square: float = 1.0
  # Adam (Keras' update).
  adam_beta1: float = 0.9
  adam_beta2: float = 0.999
  adam_epsilon: float = 1e-7
  # Learning-rate schedule over consumed environment frames, independent of
  # the training budget: constant | linear | cosine decay to
  # lr_end_factor × learning_rate over lr_decay_frames (then constant),
  # after a linear warm-up over lr_warmup_frames. Table G.1: linear to 0
  # over the 200M frames of a run.
  lr_schedule: str = 'linear'
  lr_decay_frames: int = 200_000_000
  lr_end_factor: float = 0.0
  lr_warmup_frames: int = 0
  # Global-norm gradient clipping.
  grad_clip_norm: float = 40.0
  # Training budget in environment frames (agent steps × action_repeat).
  total_environment_frames: int = 200_000_000

  # --- Sample reuse (not in the paper; as in PPO/APPO) --------------------------
  # Optimisation passes over each batch, each split into num_minibatches
  # minibatches of whole trajectories: num_epochs × num_minibatches updates
  # per batch. V-trace recomputes its targets with the current network at
  # every update, correcting for the policy having moved since the actors
  # acted (ppo_clip bounds how far).
  num_epochs: int = 1
  num_minibatches: int = 1
  # Experience replay (paper §5.3.2, Table 2): this share of each batch's
  # unrolls is sampled uniformly from a buffer of the replay_capacity most
  # recent unrolls, the rest comes fresh from the queue. 0: off. The
  # replayed share times batch_size / envs_per_actor must be a whole number
  # of unrolls, and at least one unroll per batch must be fresh. Only
  # unrolls the learner has taken to train on enter the buffer; until it
  # holds replay_min_size of them (0: a tenth of replay_capacity) the
  # replayed share of a batch is left out of the loss.
  replay_fraction: float = 0.0
  replay_capacity: int = 1000
  replay_min_size: int = 0

  # --- Learner system ------------------------------------------------------------
  # tf.distribute strategy: default (one device) | mirrored | tpu.
  strategy: str = 'default'
  # Compile the device part of the learner step (everything after the batch
  # is read) with XLA, as a TPU compiles every op. One device only
  # (strategy default); the TPU strategy compiles its replica functions
  # itself.
  jit_compile: bool = False
  # Batches the input pipeline keeps ready ahead of the train step (0: none).
  # Each prefetched batch adds about one step of policy lag.
  prefetch_batches: int = 1
  # Learner steps (batches) per call of the compiled train function; > 1
  # saves per-call overhead on accelerators.
  steps_per_call: int = 1
  # Publish weights to actors every this many learner steps.
  publish_every_steps: int = 1
  # Seconds between checkpoints (one is always written at the end).
  checkpoint_every_seconds: float = 600.0
  # Checkpoints kept on disk.
  checkpoints_to_keep: int = 3
  # Seconds between SavedModel exports to <logdir>/saved_model (one is
  # always written at the end of training).
  export_every_seconds: float = 1800.0
  # Learner steps between TensorBoard summaries.
  summary_every_steps: int = 10
  # Seconds between progress lines and status-file updates.
  log_every_seconds: float = 5.0
  # An actor that cannot reach its learner for this long (a learner that
  # never comes back) exits with status 3 and a one-line reason; until then
  # it retries with backoff. Actors exit 0 by themselves once the learner
  # has finished the run (its frame budget reached), also an actor that
  # starts or reconnects after the end: it reads the run's status file in
  # the logdir it is given.
  actor_learner_timeout_seconds: float = 900.0
  # A learner that receives no data for this long (no actor writes: they
  # never started, or are gone) checkpoints, says so in one line and exits
  # with status 4 instead of holding its machine; 0 waits for ever. Cloud
  # renders set it (launch_cloud.py --learner_data_timeout).
  learner_data_timeout_seconds: float = 0.0
  # Intra-/inter-op thread pools for TensorFlow in each process (0: TF picks).
  learner_intra_op_threads: int = 0
  actor_intra_op_threads: int = 1

  # --- Sections: the fields one agent or capability reads ---------------------
  # `--config.pbt.FIELD=VALUE`: Population Based Training (paper Appendix F;
  # impala_tf/pbt/config.py), used by learners started with --pbt_dir.
  pbt: pbt_config.PBTConfig = dataclasses.field(default_factory=pbt_config.PBTConfig)
  # Each agent's own section, `--config.<section>.FIELD=VALUE`, is added
  # below from `agents.registry.SECTIONS` (R2D2's: `config.r2d2`).

  seed: int = 0

  def __post_init__(self):
    # Each config owns its sections (dataclasses.replace would share them),
    # and a section may be given as a dict of its fields.
    for name, cls in _section_classes().items():
      value = getattr(self, name)
      if isinstance(value, dict):
        value = cls(**value)
      elif isinstance(value, cls):
        value = dataclasses.replace(value)
      setattr(self, name, value)
    self.validate()

  def validate(self) -> 'ImpalaConfig':
    """Raises ConfigError naming the first invalid field; returns self."""
    if isinstance(self.mlp_hidden_sizes, list):
      self.mlp_hidden_sizes = tuple(self.mlp_hidden_sizes)
    for name, cls in _section_classes().items():
      if not isinstance(getattr(self, name), cls):
        raise ConfigError(f'{name} must be a {cls.__name__} (set its fields as '
                          f'--config.{name}.FIELD=VALUE), got {getattr(self, name)!r}.')
      getattr(self, name).validate(ConfigError)

    positive = lambda name, integer=True: field_checks.positive(self, name, ConfigError,
                                                                integer)
    in_range = lambda *args, **kw: field_checks.in_range(self, *args, error=ConfigError, **kw)
    one_of = lambda name, options: field_checks.one_of(self, name, options, ConfigError)

    for name in ('tasks', 'task_reward_scales', 'hidden_observation_components'):
      if isinstance(getattr(self, name), list):
        setattr(self, name, tuple(getattr(self, name)))
    environment_checks.validate(self, ConfigError)
    for name in ('action_repeat', 'frame_stack', 'max_episode_frames', 'num_actors',
                 'envs_per_actor', 'unroll_length', 'batch_size', 'queue_capacity',
                 'torso_output_size', 'lstm_units', 'total_environment_frames',
                 'publish_every_steps', 'checkpoints_to_keep',
                 'summary_every_steps', 'lr_decay_frames', 'num_epochs', 'num_minibatches',
                 'steps_per_call', 'replay_capacity'):
      positive(name)
    for name in ('noop_max', 'max_episode_steps', 'env_threads', 'learner_intra_op_threads',
                 'actor_intra_op_threads', 'seed', 'lr_warmup_frames', 'prefetch_batches'):
      field_checks.non_negative_integer(self, name, ConfigError)
    in_range('sticky_action_probability', 0.0, 1.0)
    in_range('learner_data_timeout_seconds', 0.0, math.inf)   # 0: wait for ever
    learning_checks.validate(self, ConfigError)
    for name in ('rmsprop_epsilon_inside_sqrt', 'advantage_normalization', 'use_lstm',
                 'synchronous', 'observation_normalization', 'popart', 'full_action_space',
                 'episodic_life', 'jit_compile', 'observation_normalization_per_task',
                 'task_action_masks'):
      if not isinstance(getattr(self, name), bool):
        raise ConfigError(f'{name} must be true or false, got {getattr(self, name)!r}.')
    for name in ('checkpoint_every_seconds', 'export_every_seconds', 'log_every_seconds',
                 'actor_learner_timeout_seconds'):
      positive(name, integer=False)
    one_of('torso', choices.TORSOS)
    one_of('strategy', choices.STRATEGIES)
    one_of('initializer', choices.INITIALIZERS)
    if (not isinstance(self.mlp_hidden_sizes, tuple) or not self.mlp_hidden_sizes
        or not all(isinstance(h, int) and h > 0 for h in self.mlp_hidden_sizes)):
      raise ConfigError('mlp_hidden_sizes must be a non-empty tuple of positive '
                        f'integers, got {self.mlp_hidden_sizes!r}.')
    batch_checks.validate(self, ConfigError)
    architecture_checks.validate(self, ConfigError)
    return self

  # --- Derived quantities ---------------------------------------------------------
  @property
  def is_atari(self) -> bool:
    return self.task_ids[0].startswith('ALE/')

  @property
  def task_ids(self) -> Tuple[str, ...]:
    """The gymnasium id of every task: `tasks`, or (env_id,)."""
    return tuple(self.tasks) or (self.env_id,)

  @property
  def num_tasks(self) -> int:
    return len(self.task_ids)

  @property
  def task_names(self) -> Tuple[str, ...]:
    """Unique names for reporting: the env id, with '_x<scale>' where a reward
    scale is set and '#<index>' where that still leaves two alike."""
    names = []
    for k, env_id in enumerate(self.task_ids):
      name = env_id
      if self.task_reward_scales and self.task_reward_scales[k] != 1:
        name = f'{env_id}_x{self.task_reward_scales[k]:g}'
      names.append(name)
    return tuple(f'{n}#{k}' if names.count(n) > 1 else n for k, n in enumerate(names))

  def reward_scale(self, task: int) -> float:
    return float(self.task_reward_scales[task]) if self.task_reward_scales else 1.0

  @property
  def items_per_batch(self) -> int:
    """Actor unrolls that make one learner batch (fresh and replayed)."""
    return self.batch_size // self.envs_per_actor

  @property
  def replayed_items_per_batch(self) -> int:
    """Unrolls of a batch sampled from the replay buffer."""
    return round(self.replay_fraction * self.items_per_batch)

  @property
  def replay_warmup_items(self) -> int:
    """Unrolls the replay buffer must hold before batches replay from it."""
    return self.replay_min_size or max(1, self.replay_capacity // 10)

  @property
  def fresh_items_per_batch(self) -> int:
    """Unrolls of a batch taken from the queue."""
    return self.items_per_batch - self.replayed_items_per_batch

  @property
  def frames_per_learner_step(self) -> int:
    """New environment frames a learner step consumes (replayed ones are
    not counted again; with A3C, one actor's unroll)."""
    if registry.AGENTS[self.architecture].frames_per_step == 'unroll':
      return self.envs_per_actor * self.unroll_length * self.action_repeat
    return (self.fresh_items_per_batch * self.envs_per_actor * self.unroll_length
            * self.action_repeat)

  @property
  def total_learner_steps(self) -> int:
    return max(1, math.ceil(self.total_environment_frames / self.frames_per_learner_step))

  def threshold(self, name: str):
    """A V-trace threshold with `inf` mapped to None (no truncation)."""
    value = getattr(self, name)
    return None if math.isinf(value) else float(value)


def _add_agent_sections(cls):
  """The agents' config sections as fields of `cls`, after its own: a new
  agent's section is a line in the registry, not an edit here."""
  for section in registry.SECTIONS:
    cls.__annotations__[section] = object
    setattr(cls, section, dataclasses.field(
        default_factory=lambda section=section: registry.section_class(section)()))
  return dataclasses.dataclass(cls)


ImpalaConfig = _add_agent_sections(ImpalaConfig)


def _literal(value) -> str:
  if isinstance(value, float) and math.isinf(value):
    return "float('inf')" if value > 0 else "float('-inf')"
  return repr(value)


def replace(config: ImpalaConfig, **changes) -> ImpalaConfig:
  """`dataclasses.replace`, where a section given as a dict changes only the
  fields it names (presets derived from presets: `r2d2=dict(n_step=3)`)."""
  for name in _section_classes():
    if isinstance(changes.get(name), dict):
      changes[name] = dataclasses.replace(getattr(config, name), **changes[name])
  return dataclasses.replace(config, **changes)


def _section_classes():
  """{section field: its dataclass}."""
  return {'pbt': pbt_config.PBTConfig,
          **{name: registry.section_class(name) for name in registry.SECTIONS}}


def _value_text(value) -> str:
  if dataclasses.is_dataclass(value):
    inner = ', '.join(f'{f.name}={_literal(getattr(value, f.name))}'
                      for f in dataclasses.fields(value))
    return f'dict({inner})'
  return _literal(value)


# The flat names of fields that moved into a section: 'r2d2.n_step' ->
# 'r2d2.n_step'. A run directory written before the move still loads
# (`load_config_file`); a command line using one is told the new name.
def legacy_names():
  """{old flat name: 'section.field'}; PBT's four range fields map to
  'pbt.ranges'."""
  out = {}
  for section, cls in _section_classes().items():
    for field in dataclasses.fields(cls):
      out[f'{section}_{field.name}'] = f'{section}.{field.name}'
  for name in ('learning_rate', 'entropy_cost', 'optimizer_epsilon', 'grad_clip_norm'):
    out[f'pbt_{name}_range'] = 'pbt.ranges'
  return out


def from_legacy_fields(**fields) -> ImpalaConfig:
  """An ImpalaConfig from keyword fields that may use the flat names of
  before the sections (a run directory's config.py written then)."""
  legacy = legacy_names()
  sections = {}
  for old in [k for k in fields if k in legacy]:
    value = fields.pop(old)
    section, name = legacy[old].split('.')
    if name == 'ranges':
      hyperparameter = old[len('pbt_'):-len('_range')]
      sections.setdefault(section, {}).setdefault('ranges', []).append(
          (hyperparameter, *value))
    else:
      sections.setdefault(section, {})[name] = value
  for section, values in sections.items():
    if 'ranges' in values:
      values['ranges'] = tuple(values['ranges'])
    fields[section] = {**fields.get(section, {}), **values}
  return ImpalaConfig(**fields)


def config_file_text(config: ImpalaConfig) -> str:
  """`config` as the text of a preset file (a module with `get_config()`)."""
  fields = ',\n'.join(f'      {f.name}={_value_text(getattr(config, f.name))}'
                      for f in dataclasses.fields(config))
  return ('"""Resolved configuration of this run (written by impala_tf)."""\n\n'
          'from impala_tf.config import ImpalaConfig\n\n\n'
          'def get_config():\n'
          f'  return ImpalaConfig(\n{fields})\n')


def write_config_file(config: ImpalaConfig, path: str):
  """Writes `config` as a preset file (`get_config()`), atomically.

  The launcher writes the resolved configuration of a run into its logdir;
  the learner and actors it starts load that file, so every process runs
  exactly the same settings, and the run records what it was.
  """
  tmp = f'{path}.tmp'
  with open(tmp, 'w') as f:
    f.write(config_file_text(config))
  os.replace(tmp, path)


def load_config_file(path: str) -> ImpalaConfig:
  """Loads a preset or a run's config.py (a module with get_config())."""
  import types  # pylint: disable=g-import-not-at-top
  if '://' in path:
    # A run directory on gs:// (or ram://): read through TensorFlow's
    # filesystems. Local paths stay TensorFlow-free.
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    from impala_tf import run_files  # pylint: disable=g-import-not-at-top
    if not tf.io.gfile.exists(path):
      raise ConfigError(f'config file {path!r} does not exist.')
    text = run_files.read(path)
  else:
    if not os.path.isfile(path):
      raise ConfigError(f'config file {path!r} does not exist.')
    with open(path) as f:
      text = f.read()
  module = types.ModuleType('impala_tf_loaded_config')
  module.__file__ = path
  exec(compile(text, path, 'exec'), module.__dict__)  # pylint: disable=exec-used
  if module.__dict__.get('ImpalaConfig') is ImpalaConfig:
    # A run's config.py calls ImpalaConfig(...) with every field by name;
    # one written before the sections uses their old flat names.
    module.ImpalaConfig = from_legacy_fields
  return module.get_config().validate()
