"""Batched environments for actors: gymnasium vector envs and ale_py Atari.

Both adapters share one interface and the gymnasium 'next step' autoreset
convention: after a step that ends an episode (terminated or truncated), the
next `step` call ignores its action, resets that environment and returns its
first observation with reward 0. The actor masks that reset step out of the
loss (see `impala_tf.losses`). After each step `life_lost` [E] says which
environments lost a life without the game ending (Atari with
`episodic_life`; always false otherwise): the actor makes that step terminal
for learning only.

Atari runs on `ale_py.AtariVectorEnv` (C++ threads) with the paper's
preprocessing built in: 84×84 grayscale, frame skip with max-pooling, a
stack of frames, up to `noop_max` no-op starts. Its own reward clipping is
switched off: rewards are clipped in the loss, so reported returns are the
game's scores. Sticky actions default to 0.0 there (ALE/Pong-v5 uses 0.25);
the config sets them explicitly.
"""

import functools
import re
from typing import Optional, Tuple

import gymnasium as gym
import numpy as np

from impala_tf import bsuite_envs
from impala_tf import env_specs


# What the network and the trajectory queue need to know of an env.
EnvSpec = env_specs.EnvSpec


def environment_seeds(seed: int, task: int, num_envs: int) -> np.ndarray:
  """Independent seeds for the `num_envs` environments of actor `task`.

  Drawn from numpy's SeedSequence keyed on (seed, task): environments of
  different actors get unrelated seeds (consecutive integers would make
  actor 1's envs repeat actor 0's, shifted by one). int64 [num_envs], in
  [0, 2^31).
  """
  state = np.random.SeedSequence([seed, task]).generate_state(num_envs, np.uint32)
  return (state & 0x7FFFFFFF).astype(np.int64)


def _reset_seed(seed):
  """An int (consecutive seeds from it) or one seed per environment."""
  return int(seed) if np.ndim(seed) == 0 else np.asarray(seed, np.int64)


def atari_game_name(env_id: str) -> str:
  """'ALE/SpaceInvaders-v5' -> 'space_invaders' (ale_py's ROM name)."""
  match = re.fullmatch(r'ALE/([A-Za-z0-9]+)-v\d+', env_id)
  if not match:
    raise ValueError(f"Atari env_id must look like 'ALE/Pong-v5', got {env_id!r}.")
  return re.sub(r'(?<!^)(?=[A-Z])', '_', match.group(1)).lower()


class AtariEnv:
  """`ale_py.AtariVectorEnv` with the paper's preprocessing."""

  def __init__(self, config, num_envs: int, seed, env_id=None, reward_scale=1.0):
    from ale_py import AtariVectorEnv  # pylint: disable=g-import-not-at-top
    self.num_envs = num_envs
    self._seed = _reset_seed(seed)
    self._reward_scale = np.float32(reward_scale)
    self._env = AtariVectorEnv(
        atari_game_name(env_id or config.env_id),
        num_envs,
        full_action_space=config.full_action_space,
        num_threads=config.env_threads or num_envs,
        frameskip=config.action_repeat,
        stack_num=config.frame_stack,
        noop_max=config.noop_max,
        repeat_action_probability=config.sticky_action_probability,
        max_num_frames_per_episode=config.max_episode_frames,
        img_height=84,
        img_width=84,
        grayscale=True,
        maxpool=True,
        episodic_life=False,    # ends the game for ALE; we end the life for learning only
        reward_clipping=False,
        autoreset_mode='NextStep')
    self._episodic_life = config.episodic_life
    self._lives = np.zeros(num_envs, np.int64)
    self.life_lost = np.zeros(num_envs, bool)
    self.spec = EnvSpec(
        observation_shape=tuple(self._env.single_observation_space.shape),
        observation_dtype=np.dtype(self._env.single_observation_space.dtype),
        action_space=self._env.single_action_space,
        channels_first=True,
        action_masks=task_action_masks(config, self._env.single_action_space.n))

  def reset(self):
    obs, info = self._env.reset(seed=self._seed)
    self._obs = obs
    self._lives = np.asarray(info['lives'], np.int64)
    self.life_lost = np.zeros(self.num_envs, bool)
    return obs

  def step(self, actions):
    obs, reward, terminated, truncated, info = self._env.step(np.asarray(actions))
    self._obs = obs
    lives = np.asarray(info['lives'], np.int64)
    # A reset step brings the lives back up: only a decrease is a loss.
    self.life_lost = (self._episodic_life & (lives < self._lives)
                      & ~np.asarray(terminated, bool) & ~np.asarray(truncated, bool))
    self._lives = lives
    return (obs, np.asarray(reward, np.float32) * self._reward_scale,
            np.asarray(terminated, bool), np.asarray(truncated, bool))

  def frame(self, index: int):
    """The newest 84×84 grayscale frame of env `index` (for videos)."""
    return self._obs[index, -1]

  def close(self):
    self._env.close()


def _shown_components(hidden, space, env_id):
  """Indices of the observation components the agent sees (None: all)."""
  if not hidden:
    return None
  if len(space.shape) != 1:
    raise ValueError(f'hidden_observation_components needs a flat observation; {env_id!r} '
                     f'has shape {space.shape}.')
  if max(hidden) >= space.shape[0] or len(hidden) >= space.shape[0]:
    raise ValueError(f'hidden_observation_components {hidden} must name some, not all, of '
                     f'the {space.shape[0]} components of {env_id!r}\'s observation.')
  return np.array([i for i in range(space.shape[0]) if i not in hidden])


def _observed_space(space, key, env_id):
  """The Box the agent sees: the space itself, or a Dict's `key` entry."""
  if isinstance(space, gym.spaces.Dict):
    boxes = [k for k, v in space.spaces.items() if isinstance(v, gym.spaces.Box)]
    if key not in boxes:
      raise ValueError(f'env_id {env_id!r} has a Dict observation; set observation_key to one '
                       f'of its Box entries {boxes} (got {key!r}).')
    return space.spaces[key]
  if key:
    raise ValueError(f'observation_key={key!r}, but env_id {env_id!r} has observation space '
                     f'{space}, not a Dict.')
  if not isinstance(space, gym.spaces.Box):
    raise ValueError(f'env_id {env_id!r} has observation space {space}; '
                     'impala_tf needs a Box observation space (or a Dict and observation_key).')
  return space


class GymEnv:
  """Any gymnasium id through `gymnasium.make_vec` (synchronous vector env).

  Ids of envs another package registers take gymnasium's 'module:Id' form,
  e.g. 'minigrid:MiniGrid-MemoryS7-v0' (the module is imported first).
  """

  def __init__(self, config, num_envs: int, seed, render: bool = False, env_id=None,
               reward_scale=1.0):
    self.num_envs = num_envs
    seed = _reset_seed(seed)
    self._seed = seed if isinstance(seed, int) else seed.tolist()
    self._reward_scale = np.float32(reward_scale)
    env_id = env_id or config.env_id
    try:
      kwargs = {'max_episode_steps': config.max_episode_steps} if config.max_episode_steps else {}
      if render:
        kwargs['render_mode'] = 'rgb_array'
      self._env = gym.make_vec(
          env_id, num_envs=num_envs, vectorization_mode='sync',
          vector_kwargs={'autoreset_mode': gym.vector.AutoresetMode.NEXT_STEP}, **kwargs)
    except gym.error.Error as e:
      raise ValueError(f'env_id {env_id!r} could not be made: {e}') from e
    space = _observed_space(self._env.single_observation_space, config.observation_key, env_id)
    self._key = config.observation_key or None
    # Float observations travel as float32; images stay uint8 unless the
    # config says they are numbers (observation_dtype='float32').
    pixels = space.dtype == np.uint8 and config.observation_dtype == 'auto'
    dtype = np.dtype(np.uint8) if pixels else np.dtype(np.float32)
    self._dtype = dtype
    self.life_lost = np.zeros(num_envs, bool)
    self._shown = _shown_components(config.hidden_observation_components, space, env_id)
    shape = tuple(space.shape) if self._shown is None else (len(self._shown),)
    self.spec = EnvSpec(
        observation_shape=shape,
        observation_dtype=dtype,
        action_space=self._env.single_action_space,
        channels_first=False)

  def _observe(self, obs):
    if self._key is not None:
      obs = obs[self._key]
    if self._shown is not None:
      obs = obs[:, self._shown]
    return obs.astype(self._dtype, copy=False)

  def reset(self):
    obs, _ = self._env.reset(seed=self._seed)
    return self._observe(obs)

  def step(self, actions):
    obs, reward, terminated, truncated, _ = self._env.step(np.asarray(actions))
    return (self._observe(obs),
            np.asarray(reward, np.float32) * self._reward_scale,
            np.asarray(terminated, bool), np.asarray(truncated, bool))

  def frame(self, index: int):
    """An RGB rendering of env `index` (needs render=True)."""
    return self._env.render()[index]

  def close(self):
    self._env.close()


def make_env(config, num_envs: int, seed, render: bool = False, task: int = 0):
  """The batched environment of the config's task `task` (0: env_id, or
  the first of `tasks`), its rewards multiplied by the task's reward scale.

  `seed`: an int (the envs get seed, seed + 1, ...) or one seed per env
  (see `environment_seeds`). `render`: gymnasium envs render RGB frames for
  `frame()` (Atari frames come from observations). 'bsuite:<id>' runs
  DeepMind's bsuite (`bsuite_envs`).
  """
  if not 0 <= task < config.num_tasks:
    raise ValueError(f'task must be in [0, {config.num_tasks}), got {task}.')
  env_id, scale = config.task_ids[task], config.reward_scale(task)
  if bsuite_envs.is_bsuite(env_id):
    return bsuite_envs.BsuiteEnv(config, num_envs, seed, env_id=env_id, reward_scale=scale)
  if config.is_atari:
    return AtariEnv(config, num_envs, seed, env_id=env_id, reward_scale=scale)
  return GymEnv(config, num_envs, seed, render=render, env_id=env_id, reward_scale=scale)


@functools.lru_cache(maxsize=None)
def _minimal_actions(env_id: str) -> Tuple[int, ...]:
  """Game `env_id`'s minimal action set as indices of ALE's full set (read
  once per process: every Atari environment's spec asks for it)."""
  import ale_py  # pylint: disable=g-import-not-at-top
  gym.register_envs(ale_py)
  env = gym.make(env_id, full_action_space=False)
  try:
    return tuple(a.value for a in env.unwrapped.ale.getMinimalActionSet())
  finally:
    env.close()


def minimal_action_mask(env_id: str, num_actions: int) -> np.ndarray:
  """bool [num_actions]: which of ALE's full action set (its enum's order, the
  full_action_space's order) are in game `env_id`'s minimal action set."""
  mask = np.zeros(num_actions, bool)
  mask[list(_minimal_actions(env_id))] = True
  return mask


def task_action_masks(config, num_actions: int) -> Optional[np.ndarray]:
  """bool [K, num_actions], each task's minimal action set, with
  `task_action_masks`; else None. Every Atari environment's spec carries it,
  so the actors, the learner and the export all build the same masks."""
  if not config.task_action_masks:
    return None
  return np.stack([minimal_action_mask(env_id, num_actions) for env_id in config.task_ids])


def env_spec(config) -> EnvSpec:
  """The spec every task shares, from short-lived single envs; a ValueError
  names the task whose observations or actions differ from the first's."""
  specs = {}
  for task, env_id in enumerate(config.task_ids):
    if env_id in specs:
      continue
    env = make_env(config, 1, seed=0, task=task)
    try:
      specs[env_id] = env.spec
    finally:
      env.close()
  first_id, first = next(iter(specs.items()))
  for env_id, spec in specs.items():
    if (spec.observation_shape, spec.observation_dtype, spec.action_space) != (
        first.observation_shape, first.observation_dtype, first.action_space):
      raise ValueError(
          f'task {env_id!r} has observations {spec.observation_shape} {spec.observation_dtype} '
          f'and actions {spec.action_space}, but {first_id!r} has '
          f'{first.observation_shape} {first.observation_dtype} and {first.action_space}: '
          'tasks must share both (for Atari, set full_action_space=true).')
  return first
