"""Validation of a config's environments and tasks.

`ImpalaConfig.validate` calls `validate`. What can only be checked against a
made environment (an observation index past its end) is checked when the
environment is made (`environments.GymEnv`).
"""

OBSERVATION_DTYPES = ('auto', 'float32')


def validate(config, error):
  """Raises `error(message)` naming the first environment field that is wrong."""
  if not isinstance(config.env_id, str) or not config.env_id:
    raise error(f'env_id must be a non-empty gymnasium id, got {config.env_id!r}.')
  if not isinstance(config.tasks, tuple) or not all(
      isinstance(t, str) and t for t in config.tasks):
    raise error(f'tasks must be a tuple of gymnasium ids, got {config.tasks!r}.')
  if len({t.startswith('ALE/') for t in config.task_ids}) > 1:
    raise error(f'tasks must be all Atari or all non-Atari, got {config.tasks!r}.')
  if config.episodic_life is True and not config.is_atari:
    raise error(f'episodic_life needs Atari tasks (lives), got {config.task_ids!r}.')
  if config.is_atari and len(set(config.task_ids)) > 1 and not config.full_action_space:
    raise error('several Atari games need full_action_space=true, so that one policy '
                f'head serves them all (tasks {config.tasks!r}).')
  if config.task_action_masks and not (config.is_atari and config.full_action_space):
    raise error('task_action_masks masks the full action set to each game\'s minimal '
                'set: it needs Atari tasks and full_action_space=true.')
  if config.task_reward_scales and (
      len(config.task_reward_scales) != config.num_tasks
      or not all(isinstance(x, (int, float)) and not isinstance(x, bool) and x > 0
                 for x in config.task_reward_scales)):
    raise error(f'task_reward_scales must be empty or one positive number per task '
                f'({config.num_tasks}), got {config.task_reward_scales!r}.')
  hidden = config.hidden_observation_components
  if not isinstance(hidden, tuple) or not all(
      isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in hidden) or (
          len(set(hidden)) != len(hidden)):
    raise error(f'hidden_observation_components must be distinct non-negative indices, got '
                f'{hidden!r}.')
  if not isinstance(config.observation_key, str):
    raise error(f'observation_key must be a string (a key of a Dict observation), got '
                f'{config.observation_key!r}.')
  if config.observation_dtype not in OBSERVATION_DTYPES:
    raise error(f'observation_dtype must be one of {OBSERVATION_DTYPES}, got '
                f'{config.observation_dtype!r}.')
  if config.is_atari and (config.observation_key or config.observation_dtype != 'auto'):
    raise error('observation_key and observation_dtype apply to gymnasium envs, not Atari '
                f'frames (tasks {config.task_ids!r}).')
  if hidden and config.is_atari:
    raise error('hidden_observation_components applies to flat (Box) observations of '
                f'gymnasium envs, not Atari frames (tasks {config.task_ids!r}).')
