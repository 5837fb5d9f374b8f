"""Evaluating an exported policy on whole episodes.

The SavedModel is loaded with plain `tf.saved_model.load`; the environment
is rebuilt from the preprocessing recorded next to it. Episodes run on a
small batch of environments, each with a fixed quota of episodes, so short
episodes are not over-represented (taking the first N to finish would be).
"""

import dataclasses
import time

from absl import logging
import numpy as np
import tensorflow as tf
from tf_agents.trajectories import time_step as ts

from impala_tf import config as config_lib
from impala_tf import environments
from impala_tf import export

FIRST, MID, LAST = int(ts.StepType.FIRST), int(ts.StepType.MID), int(ts.StepType.LAST)


class EvaluationError(ValueError):
  """A bad evaluation argument (episode count, video path)."""


def load_policy(saved_model_dir: str):
  """(loaded SavedModel, recorded preprocessing); clear errors if broken."""
  preprocessing = export.read_preprocessing(saved_model_dir)
  try:
    policy = tf.saved_model.load(saved_model_dir)
  except (OSError, ValueError, tf.errors.OpError) as e:
    raise export.SavedModelError(
        f'{saved_model_dir!r} could not be loaded as a SavedModel: '
        f'{str(e).splitlines()[0][:300]}') from e
  for name in ('action', 'get_initial_state'):
    if not hasattr(policy, name):
      raise export.SavedModelError(f'{saved_model_dir!r} has no {name!r} function: not a '
                                   'policy export.')
  return policy, preprocessing


def _write_video(frames, path, fps):
  import imageio  # pylint: disable=g-import-not-at-top
  frames = [np.asarray(f, np.uint8) for f in frames]
  if path.endswith('.gif'):
    imageio.mimsave(path, frames, duration=1000.0 / fps, loop=0)
    return
  try:  # .mp4 (evaluate() accepts no other suffix)
    imageio.mimsave(path, frames, fps=fps)
  except (ImportError, ValueError, RuntimeError) as e:
    raise EvaluationError(f'Writing MP4 needs imageio-ffmpeg ({e}); use a .gif path.') from e


def _config(preprocessing, env_id=None):
  base = config_lib.ImpalaConfig(env_id=preprocessing['env_id'], envs_per_actor=1,
                                 batch_size=1, torso=preprocessing.get('torso', 'mlp'))
  config = export.config_from_preprocessing(preprocessing, base)
  if env_id:
    config = dataclasses.replace(config, env_id=env_id, tasks=(), task_reward_scales=())
  return config.validate()


def task_names(saved_model_dir: str):
  """The names of the tasks an export was trained on."""
  return _config(export.read_preprocessing(saved_model_dir)).task_names


def evaluate_tasks(saved_model_dir: str, episodes: int, task: str = 'all', seed: int = 0,
                   num_envs: int = 8):
  """Evaluates an export on its tasks: `task` is 'all' or one task's name.

  Returns {'per_task': {name: evaluate(...) result}} plus, for Atari games,
  'human_normalized': their human-normalised scores and median.
  """
  from impala_tf import atari_scores  # pylint: disable=g-import-not-at-top
  config = _config(export.read_preprocessing(saved_model_dir))
  names = list(config.task_names)
  if task != 'all' and task not in names:
    raise EvaluationError(f'--task must be "all" or one of {names}, got {task!r}.')
  picked = range(len(names)) if task == 'all' else [names.index(task)]
  per_task = {names[k]: evaluate(saved_model_dir, episodes, seed=seed, num_envs=num_envs,
                                 task=k) for k in picked}
  result = {'per_task': per_task}
  hns = atari_scores.human_normalized_report(
      {name: r['return_mean'] for name, r in per_task.items()},
      dict(zip(names, config.task_ids)))
  if hns:
    result['human_normalized'] = hns
  return result


def evaluate(saved_model_dir: str, episodes: int, env_id: str = None, seed: int = 0,
             video: str = None, num_envs: int = 8, progress_every: float = 10.0,
             task: int = 0):
  """Runs `episodes` whole episodes of task `task` (or of `env_id`); returns
  the summary dict."""
  if episodes < 1:
    raise EvaluationError(f'--episodes must be >= 1, got {episodes}.')
  if video and not video.endswith(('.gif', '.mp4')):
    raise EvaluationError(f'--video must end in .gif or .mp4, got {video!r}.')
  policy, preprocessing = load_policy(saved_model_dir)
  config = _config(preprocessing, env_id)
  n = min(num_envs, episodes)
  quota = np.array([episodes // n + (i < episodes % n) for i in range(n)])
  env = environments.make_env(config, n, seed=seed,
                              render=bool(video) and not config.is_atari, task=task)
  obs = env.reset()
  state = policy.get_initial_state(n)
  if 'task' in state:   # the task picks the observation statistics and action mask
    state = dict(state, task=tf.fill([n], tf.constant(task, tf.int32)))
  step_type = np.full(n, FIRST, np.int32)
  reward = np.zeros(n, np.float32)
  last = np.zeros(n, bool)
  ep_return, ep_length = np.zeros(n), np.zeros(n, np.int64)
  done_count = np.zeros(n, np.int64)
  returns, lengths, frames = [], [], []
  recording = bool(video)
  start = last_print = time.time()
  while (done_count < quota).any():
    # The exported signature is exact about dtypes: int32 step types and
    # float32 rewards and discounts.
    time_step = ts.TimeStep(
        step_type=tf.constant(step_type, tf.int32),
        reward=tf.constant(reward, tf.float32),
        discount=tf.constant(np.where(step_type == LAST, 0.0, 1.0), tf.float32),
        observation=tf.constant(obs))
    result = policy.action(time_step, state)
    state = result.state
    action = result.action.numpy()
    if recording:
      frames.append(env.frame(0))
    obs, r, terminated, truncated = env.step(action)
    reset = last  # this step was the env's automatic reset
    step_type = np.where(reset, FIRST, np.where(terminated | truncated, LAST, MID))
    reward = np.where(reset, 0.0, r).astype(np.float32)
    ep_return += np.where(reset, 0.0, r)
    ep_length += np.where(reset, 0, 1)
    last = ~reset & (terminated | truncated)
    for i in np.flatnonzero(last):
      if done_count[i] < quota[i]:
        returns.append(float(ep_return[i]))
        lengths.append(int(ep_length[i]))
        done_count[i] += 1
      if i == 0 and recording:
        recording = False
        frames.append(env.frame(0))
      ep_return[i], ep_length[i] = 0.0, 0
    if time.time() - last_print >= progress_every:
      logging.info('evaluate: %d/%d episodes, mean return so far %s', len(returns), episodes,
                   f'{np.mean(returns):.2f}' if returns else 'n/a')
      last_print = time.time()
  env.close()
  if video:
    _write_video(frames, video, fps=30 if config.is_atari else 50)
  return {
      'episodes': len(returns),
      'return_mean': float(np.mean(returns)),
      'return_std': float(np.std(returns)),
      'return_median': float(np.median(returns)),
      'return_min': float(np.min(returns)),
      'return_max': float(np.max(returns)),
      'length_mean': float(np.mean(lengths)),
      'env_id': config.task_ids[task],
      'task': config.task_names[task],
      'train_step': preprocessing.get('train_step'),
      'greedy': preprocessing.get('greedy'),
      'wall_seconds': round(time.time() - start, 2),
      'video': video,
  }

