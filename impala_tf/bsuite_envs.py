"""DeepMind's bsuite (Osband et al. 2020) as batched environments, and its log.

`env_id` 'bsuite:<experiment>/<setting>' (e.g. 'bsuite:memory_len/22') runs
`num_envs` copies of that bsuite environment, each with its own seed, behind
the interface of `environments.GymEnv`. bsuite environments are dm_env
environments whose `step` after a last step resets and returns the first
observation with no reward: the "next step" autoreset the actors expect.
Observations are flattened to float32 vectors.

`EpisodeLog` writes bsuite's own CSV log (`bsuite.logging.csv_logging`) of
a run's episodes, so `bsuite`'s analysis scores it. A run's parallel
environments play one setting together: their episodes are counted as one
stream, in the order the learner receives them (batch by batch; within a
batch by the step they ended at), and logged on bsuite's logarithmic
schedule of episode counts, up to the setting's episode budget (10,000).
The scoring columns bsuite's analysis reads (`total_perfect`,
`total_regret`) are derived from each episode's return, which is exact for
the experiments whose reward is ±1 once per episode: memory_len and
memory_size.
"""

import numpy as np

PREFIX = 'bsuite:'
# Experiments whose scoring columns follow from episode returns alone.
LOGGED_EXPERIMENTS = ('memory_len', 'memory_size')
# The learner writes the log to <logdir>/bsuite.
LOG_DIRECTORY = 'bsuite'


def is_bsuite(env_id: str) -> bool:
  return env_id.startswith(PREFIX)


def is_logged(env_id: str) -> bool:
  """Whether the learner writes bsuite's log of this id's episodes."""
  return env_id[len(PREFIX):].split('/')[0] in LOGGED_EXPERIMENTS


def bsuite_id(env_id: str) -> str:
  """'bsuite:memory_len/22' -> 'memory_len/22'; ValueError naming the
  known experiments if it is not one of bsuite's ids."""
  from bsuite import sweep  # pylint: disable=g-import-not-at-top
  name = env_id[len(PREFIX):]
  if name not in sweep.SWEEP:
    experiments = sorted({i.split('/')[0] for i in sweep.SWEEP})
    raise ValueError(f'env_id {env_id!r} is not a bsuite id: use bsuite:<experiment>/<setting> '
                     f'with an experiment of {experiments} and a setting of its sweep '
                     "(e.g. 'bsuite:memory_len/22').")
  return name


def _space(spec):
  import gymnasium as gym  # pylint: disable=g-import-not-at-top
  if hasattr(spec, 'num_values'):
    return gym.spaces.Discrete(int(spec.num_values))
  raise ValueError(f'bsuite action spec {spec} is not discrete; impala_tf runs bsuite\'s '
                   'discrete-action experiments.')


class BsuiteEnv:
  """`num_envs` copies of one bsuite environment, stepped in turn."""

  def __init__(self, config, num_envs: int, seed, env_id=None, reward_scale=1.0):
    from bsuite import bsuite as bsuite_lib  # pylint: disable=g-import-not-at-top
    from bsuite import sweep  # pylint: disable=g-import-not-at-top
    # Here, not at the top: the command line checks bsuite ids through this
    # module without loading TensorFlow (env_specs imports it).
    from impala_tf import env_specs  # pylint: disable=g-import-not-at-top
    self.num_envs = num_envs
    self.bsuite_id = bsuite_id(env_id or config.env_id)
    seeds = (np.arange(num_envs) + int(seed) if np.ndim(seed) == 0
             else np.asarray(seed, np.int64))
    experiment, _ = bsuite_lib.unpack_bsuite_id(self.bsuite_id)
    # Each copy its own seed, replacing the setting's (one per setting).
    self._envs = [bsuite_lib.load(experiment, dict(sweep.SETTINGS[self.bsuite_id], seed=int(s)))
                  for s in seeds]
    self._reward_scale = np.float32(reward_scale)
    first = self._envs[0]
    self._size = int(np.prod(first.observation_spec().shape))
    self.life_lost = np.zeros(num_envs, bool)
    self.spec = env_specs.EnvSpec(
        observation_shape=(self._size,), observation_dtype=np.dtype(np.float32),
        action_space=_space(first.action_spec()), channels_first=False)
    self._obs = np.zeros((num_envs, self._size), np.float32)

  def reset(self):
    for i, env in enumerate(self._envs):
      self._obs[i] = np.reshape(env.reset().observation, -1)
    return self._obs

  def step(self, actions):
    reward = np.zeros(self.num_envs, np.float32)
    terminated = np.zeros(self.num_envs, bool)
    truncated = np.zeros(self.num_envs, bool)
    for i, (env, action) in enumerate(zip(self._envs, np.asarray(actions))):
      timestep = env.step(int(action))
      self._obs[i] = np.reshape(timestep.observation, -1)
      reward[i] = timestep.reward or 0.0
      if timestep.last():
        terminated[i] = timestep.discount == 0.0
        truncated[i] = not terminated[i]
    return self._obs, reward * self._reward_scale, terminated, truncated

  def frame(self, index: int):
    raise NotImplementedError(f'bsuite environment {self.bsuite_id} has no rendering; '
                              'evaluate it without --video.')

  def close(self):
    for env in self._envs:
      env.close()


class EpisodeLog:
  """bsuite's CSV log of one setting's episodes, written by the learner."""

  def __init__(self, env_id: str, results_dir: str, overwrite: bool = False):
    from bsuite.logging import csv_logging  # pylint: disable=g-import-not-at-top
    from bsuite import sweep  # pylint: disable=g-import-not-at-top
    from bsuite.utils import wrappers  # pylint: disable=g-import-not-at-top
    self._schedule = wrappers._logarithmic_logging  # pylint: disable=protected-access
    self.bsuite_id = bsuite_id(env_id)
    experiment = self.bsuite_id.split('/')[0]
    if experiment not in LOGGED_EXPERIMENTS:
      raise ValueError(f'bsuite_log_dir: logging {experiment!r} needs its own scoring columns; '
                       f'impala_tf logs {LOGGED_EXPERIMENTS}.')
    self.num_episodes = sweep.EPISODES[self.bsuite_id]
    self._logger = csv_logging.Logger(self.bsuite_id, results_dir, overwrite=overwrite)
    self.episodes = 0
    self._steps = 0
    self._total_return = 0.0
    self._perfect = 0
    self._regret = 0.0

  @property
  def done(self) -> bool:
    """Whether the setting's episode budget is logged."""
    return self.episodes >= self.num_episodes

  def add_episodes(self, returns, lengths):
    """Counts finished episodes (returns and lengths in agent steps, in the
    order they finished); those past the budget are not counted."""
    for episode_return, length in zip(returns, lengths):
      if self.done:
        return
      self.episodes += 1
      self._steps += int(length)
      self._total_return += float(episode_return)
      if episode_return > 0:
        self._perfect += 1
      else:
        self._regret += 2.0
      # bsuite's own schedule of logged episode counts (its Logging wrapper's).
      if self._schedule(self.episodes) or self.done:
        self._logger.write(dict(
            steps=self._steps, episode=self.episodes, total_return=self._total_return,
            episode_len=int(length), episode_return=float(episode_return),
            total_perfect=self._perfect, total_regret=self._regret))
