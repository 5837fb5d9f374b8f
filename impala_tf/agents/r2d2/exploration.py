"""R2D2's actors explore ε-greedily, each environment with its own ε (Ape-X's
ladder).

Environment i of the N acting environments of the run acts with
ε_i = base^(1 + α·i/(N − 1)), base = 0.4 and α = 7 (the paper's Section 2.3,
after Horgan et al. 2018; seed_rl: `0.4 ** linspace(1, 8, num_envs)`): from
0.4 for the first down to 0.4⁸ ≈ 0.00066 for the last, so some environments
explore broadly and some nearly follow the greedy policy. i is global:
actor a's environment e is a · envs_per_actor + e, so the ladder spans every
environment however the actors are placed on machines.
"""

import numpy as np
import tensorflow as tf


def actor_epsilon(index: int, num_actors: int, base: float = 0.4, alpha: float = 7.0) -> float:
  """ε of actor `index` of `num_actors` (a single actor gets `base`)."""
  if not 0 <= index < num_actors:
    raise ValueError(f'actor index must be in [0, {num_actors}), got {index}.')
  if num_actors == 1:
    return base
  return float(base ** (1.0 + alpha * index / (num_actors - 1)))


def greedy_end_size(num_envs: int) -> int:
  """How many of the run's environments form the ladder's greedy end: a
  quarter, at least one."""
  return max(1, num_envs // 4)


def greedy_end_epsilon(num_envs: int, base: float = 0.4, alpha: float = 7.0) -> float:
  """The largest ε of the ladder's greedy end: the quarter of the run's
  `num_envs` environments with the smallest ε (at least one), whose episodes
  show what the policy does with little exploration. For 32 environments:
  rungs 24-31, ε ≤ 0.0028 (the paper's 256: rungs 192-255, ε ≤ 0.0033).
  float32, as the environments' ε are, so `ε <= greedy_end_epsilon` picks
  them exactly."""
  first = num_envs - greedy_end_size(num_envs)
  return float(np.float32(actor_epsilon(first, num_envs, base, alpha)))


def environment_epsilons(actor: int, envs_per_actor: int, num_actors: int,
                         base: float = 0.4, alpha: float = 7.0) -> np.ndarray:
  """float32 [envs_per_actor]: ε of actor `actor`'s environments, rungs
  actor · envs_per_actor + e of the ladder over all num_actors · envs_per_actor."""
  if not 0 <= actor < num_actors:
    raise ValueError(f'actor index must be in [0, {num_actors}), got {actor}.')
  total = num_actors * envs_per_actor
  first = actor * envs_per_actor
  return np.array([actor_epsilon(first + e, total, base, alpha)
                   for e in range(envs_per_actor)], np.float32)


class EpsilonGreedy:
  """The acting distribution of an R2D2 actor, in the interface of
  `impala_tf.distributions.Categorical` (what the actor's graph policy and
  the export call): its parameters are the Q values [..., A]; `sample`
  takes the greedy action, or with probability ε a uniform one; `mode` is
  the greedy action. `epsilon` is one ε for every environment, or one per
  environment of the batch [E].
  """

  def __init__(self, num_actions: int, epsilon):
    epsilon = np.asarray(epsilon, np.float32)
    if epsilon.ndim > 1 or not np.all((epsilon >= 0.0) & (epsilon <= 1.0)):
      raise ValueError(f'epsilon must be in [0, 1] (one, or one per environment), got '
                       f'{epsilon}.')
    self.num_actions = self.num_params = num_actions
    self.epsilon = epsilon
    self.action_shape = ()
    self.action_dtype = tf.int32

  def sample(self, q_values, seed):
    """int32 actions [...] with a stateless seed (shape [2])."""
    greedy = self.mode(q_values)
    shape = tf.shape(greedy)
    seeds = tf.random.experimental.stateless_split(seed, 2)
    explore = tf.random.stateless_uniform(shape, seeds[0]) < tf.constant(self.epsilon)
    uniform = tf.random.stateless_uniform(shape, seeds[1], minval=0,
                                          maxval=self.num_actions, dtype=tf.int32)
    return tf.where(explore, uniform, greedy)

  def mode(self, q_values):
    return tf.argmax(q_values, axis=-1, output_type=tf.int32)
