"""Steps a batch of environments with a graph policy: the part of an actor
that knows environments, not Reverb.

`Stepper` holds `envs_per_actor` environments, the acting step (a fixed
graph run by a Session, `graph_policy`), and each environment's episode
bookkeeping; per step the Python side only moves numpy arrays between the
envs and the policy. The actor loop (`impala_tf.actor`) adds the learner
connection and the agent's adder; a source inside the learner (batched A2C
synchronous per step) uses a Stepper on its own.
"""

import collections
import time

from absl import logging
import numpy as np
import tensorflow as tf

from impala_tf import environments
from impala_tf import graph_policy
from impala_tf import networks


def copy_part(part):
  """A copy of a step's numpy columns: the environments reuse their buffers."""
  return tf.nest.map_structure(np.array, part)


def stack_unroll(parts, actions, use_lstm: bool):
  """T+1 observation parts and T action records as one unroll shaped like a
  queue item ([T+1, E, ...], actions [T, E, ...], the core state at its
  start)."""
  unroll = {name: np.stack([p[name] for p in parts]) for name in parts[0]
            if name != 'core_state'}
  unroll.update({name: np.stack([a[name] for a in actions]) for name in actions[0]})
  if use_lstm:
    unroll['core_state'] = parts[0]['core_state']
  return unroll


class Stepper:
  """`num_envs` environments of one task and the policy that acts in them."""

  def __init__(self, config, task: int, task_id: int, network_fn, distribution_fn=None,
               num_envs=None, gradients=False):
    """
    Args:
      config: the ImpalaConfig.
      task: this stepper's index (it seeds the environments and the actions).
      task_id: which of the config's tasks the environments run.
      network_fn: fn(env_spec) -> the unbuilt Keras network to act with
        (`Agent.acting_network`).
      distribution_fn: fn(env_spec) -> what actions are drawn from
        (`Agent.acting_distribution`); default the spec's distribution.
      num_envs: environments stepped as one batch (default envs_per_actor).
      gradients: the policy's graph also builds the loss's gradients (A3C).
    """
    self._config = config
    self._task = task
    self.task_id = task_id
    if not 0 <= task_id < config.num_tasks:
      raise ValueError(f'task_id must be in [0, {config.num_tasks}) for the config\'s '
                       f'{config.num_tasks} task(s), got {task_id}.')
    self._num_envs = num_envs or config.envs_per_actor
    self._env = environments.make_env(
        config, self._num_envs, seed=environments.environment_seeds(config.seed, task,
                                                                    self._num_envs),
        task=task_id)
    spec = self.env_spec = self._env.spec
    self._dist = spec.distribution
    # What actions are drawn from (R2D2's ε-greedy carries each
    # environment's ε, which its adder reports with each episode).
    self.acting_distribution = (distribution_fn(spec) if distribution_fn
                                else spec.distribution)
    # The acting step: numpy in, numpy out, run by a Session (no per-step
    # EagerTensors, which leak under Python 3.11; see graph_policy).
    self.policy = graph_policy.GraphPolicy(
        config, spec, self._num_envs, seed=(config.seed, task),
        threads=config.actor_intra_op_threads, gradients=gradients, network=network_fn(spec),
        distribution=self.acting_distribution,
        task_id=task_id)
    self.env_frames = 0
    # Recent finished episodes only: a long run must not grow without bound.
    self.episode_returns = collections.deque(maxlen=1000)
    self.weights_version = -1
    # Seconds spent per phase, for the log line: where an actor's time goes.
    self.timers = {'env': 0.0, 'policy': 0.0, 'reverb': 0.0, 'weights': 0.0}

  # --- Environment bookkeeping ------------------------------------------------
  def reset_envs(self):
    e = self._num_envs
    action_shape = (e, *self._dist.action_shape)
    action_dtype = self._dist.action_dtype.as_numpy_dtype
    self._obs = self._env.reset()
    self._first = np.ones(e, bool)
    self._reward = np.zeros(e, np.float32)
    self._terminal = np.zeros(e, bool)
    self._last = np.zeros(e, bool)
    self._prev_action = np.zeros(action_shape, action_dtype)
    self._episode_return = np.zeros(e, np.float32)
    self._episode_length = np.zeros(e, np.int32)
    self._episode_version = np.full(e, self.weights_version, np.int64)
    self._core_state = self.policy.initial_state()
    self._task_column = np.full(e, self.task_id, np.int32)
    self._counter = 0

  def observation_part(self):
    part = {
        'observation': self._obs,
        'first': self._first,
        'reward': self._reward,
        'terminal': self._terminal,
        'last': self._last,
        'prev_action': self._prev_action,
        'episode_return': self._episode_return,
        'episode_length': self._episode_length,
        'task': self._task_column,
        'episode_version': self._episode_version,
    }
    if self._config.use_lstm:
      part['core_state'] = self._core_state
    return part

  def act_and_step(self, record):
    """Acts on the current observation, records the action part (`record`
    takes its dict), steps the environments."""
    t0 = time.perf_counter()
    # The weights that take an episode's first action date the episode.
    self._episode_version = np.where(self._first, self.weights_version,
                                     self._episode_version).astype(np.int64)
    inputs = networks.NetworkInput(self._obs, self._first, self._prev_action, self._reward)
    action, params, self._core_state = self.policy.step(inputs, self._core_state,
                                                        self._counter)
    self._counter += 1
    t1 = time.perf_counter()
    record({
        'action': action,
        'policy_params': params,
        'weights_version': np.full(self._num_envs, self.weights_version, np.int64),
    })
    t2 = time.perf_counter()
    obs, reward, terminated, truncated = self._env.step(action)
    t3 = time.perf_counter()
    self.timers['policy'] += t1 - t0
    self.timers['reverb'] += t2 - t1
    self.timers['env'] += t3 - t2
    self.env_frames += self._num_envs * self._config.action_repeat

    # Environments whose previous observation ended an episode just ran the
    # reset step: `obs` starts a new episode and `reward` is 0.
    reset = self._last
    live = ~reset
    if not np.all(np.isfinite(reward)):
      # Sent on as they are: the learner skips (and counts) any update whose
      # data or loss is not finite, so one bad env step costs one batch.
      bad = np.flatnonzero(~np.isfinite(reward))
      logging.warning('actor %d: environment %r returned non-finite rewards %s in envs %s.',
                      self._task, self._config.env_id, reward[bad], bad.tolist())
    self._obs = obs
    self._first = reset.copy()
    self._reward = np.where(live, reward, 0.0).astype(np.float32)
    # A lost life (episodic_life) is terminal for learning; the episode,
    # its return and the environment go on.
    self._terminal = live & (terminated | self._env.life_lost)
    self._last = live & (terminated | truncated)
    self._prev_action = np.where(
        live.reshape((-1,) + (1,) * (action.ndim - 1)), action,
        np.zeros_like(action))
    self._episode_return = np.where(live, self._episode_return + self._reward, 0.0).astype(
        np.float32)
    self._episode_length = np.where(live, self._episode_length + 1, 0).astype(np.int32)
    for i in np.flatnonzero(self._last):
      self.episode_returns.append(float(self._episode_return[i]))

  def collect_unroll(self, first_part):
    """Acts T steps from `first_part` (the observation part acting starts
    from, see `observation_part`), outside any queue.

    Returns (unroll, last part): the unroll as one dict of numpy columns
    shaped like a queue item ([T+1, E, ...], actions [T, E, ...], the core
    state at its start), and the observation part the next unroll starts
    from. Used where the unroll is consumed in this process (the
    synchronous-per-step source).
    """
    parts, actions = [first_part], []
    for _ in range(self._config.unroll_length):
      self.act_and_step(lambda part: actions.append(copy_part(part)))
      parts.append(copy_part(self.observation_part()))
    return stack_unroll(parts, actions, self._config.use_lstm), parts[-1]

  def close(self):
    self._env.close()
    self.policy.close()
