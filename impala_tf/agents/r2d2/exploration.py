"""R2D2's actors explore ε-greedily, each with its own ε (Ape-X's ladder).

Actor i of N acts with ε_i = base^(1 + α·i/(N − 1)), base = 0.4 and α = 7
(the paper's Section 2.3, after Horgan et al. 2018): from 0.4 for actor 0
down to 0.4⁸ ≈ 0.00066 for the last one, so some actors explore broadly and
some nearly follow the greedy policy.
"""

import tensorflow as tf


def actor_epsilon(index: int, num_actors: int, base: float = 0.4, alpha: float = 7.0) -> float:
  """ε of actor `index` of `num_actors` (a single actor gets `base`)."""
  if not 0 <= index < num_actors:
    raise ValueError(f'actor index must be in [0, {num_actors}), got {index}.')
  if num_actors == 1:
    return base
  return float(base ** (1.0 + alpha * index / (num_actors - 1)))


class EpsilonGreedy:
  """The acting distribution of an R2D2 actor, in the interface of
  `impala_tf.distributions.Categorical` (what the actor's graph policy and
  the export call): its parameters are the Q values [..., A]; `sample`
  takes the greedy action, or with probability ε a uniform one; `mode` is
  the greedy action.
  """

  def __init__(self, num_actions: int, epsilon: float):
    if not 0.0 <= epsilon <= 1.0:
      raise ValueError(f'epsilon must be in [0, 1], got {epsilon}.')
    self.num_actions = self.num_params = num_actions
    self.epsilon = epsilon
    self.action_shape = ()
    self.action_dtype = tf.int32

  def sample(self, q_values, seed):
    """int32 actions [...] with a stateless seed (shape [2])."""
    greedy = self.mode(q_values)
    shape = tf.shape(greedy)
    seeds = tf.random.experimental.stateless_split(seed, 2)
    explore = tf.random.stateless_uniform(shape, seeds[0]) < self.epsilon
    uniform = tf.random.stateless_uniform(shape, seeds[1], minval=0,
                                          maxval=self.num_actions, dtype=tf.int32)
    return tf.where(explore, uniform, greedy)

  def mode(self, q_values):
    return tf.argmax(q_values, axis=-1, output_type=tf.int32)
