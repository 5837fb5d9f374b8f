"""Action distributions parameterised by the network's policy head.

The network emits one flat float vector of policy parameters per step
(`policy_params`, shape [..., P]); a distribution object turns it into log
probabilities, entropies and samples. Actors store the same vector as the
behaviour policy, so the learner can recompute μ(a|x) exactly.

  Categorical:  P = NUM_ACTIONS logits; actions are int32 [...].
  DiagGaussian: P = 2 * ACTION_DIM, the mean followed by log standard
                deviations; actions are float32 [..., ACTION_DIM].
"""

import math

import tensorflow as tf


class Categorical:
  """Categorical policy over `num_actions` discrete actions."""

  def __init__(self, num_actions: int):
    if num_actions < 1:
      raise ValueError(f'num_actions must be >= 1, got {num_actions}.')
    self.num_actions = num_actions
    self.num_params = num_actions
    self.action_shape = ()
    self.action_dtype = tf.int32

  def log_prob(self, policy_params, actions, epsilon: float = 0.0):
    """log π(a|x), float [...].

    With epsilon > 0 returns log(π(a|x) + epsilon): the paper's ε-correction
    ablation (Table 2), which keeps log π away from −∞.
    """
    if epsilon:
      probs = tf.nn.softmax(policy_params)
      onehot = tf.one_hot(tf.cast(actions, tf.int32), self.num_actions, dtype=probs.dtype)
      return tf.math.log(tf.reduce_sum(probs * onehot, axis=-1) + epsilon)
    return -tf.nn.sparse_softmax_cross_entropy_with_logits(
        logits=policy_params, labels=tf.cast(actions, tf.int32))

  def entropy(self, policy_params):
    """−Σ_a π(a) log π(a), float [...]."""
    log_probs = tf.nn.log_softmax(policy_params)
    return -tf.reduce_sum(tf.exp(log_probs) * log_probs, axis=-1)

  def kl(self, p_params, q_params):
    """KL(p ‖ q) = Σ_a p(a) (log p(a) − log q(a)), float [...]."""
    log_p = tf.nn.log_softmax(p_params)
    return tf.reduce_sum(tf.exp(log_p) * (log_p - tf.nn.log_softmax(q_params)), axis=-1)

  def sample(self, policy_params, seed):
    """Samples int32 actions [...] with a stateless seed (shape [2])."""
    flat = tf.reshape(policy_params, [-1, self.num_actions])
    actions = tf.random.stateless_categorical(flat, 1, seed=seed, dtype=tf.int32)
    return tf.reshape(actions, tf.shape(policy_params)[:-1])

  def mode(self, policy_params):
    """The greedy action, int32 [...]."""
    return tf.argmax(policy_params, axis=-1, output_type=tf.int32)


class DiagGaussian:
  """Gaussian policy with a diagonal covariance over ACTION_DIM dimensions."""

  # Bounds on log σ keep the ratios π/μ finite when the learner's policy
  # narrows faster than the actors' copy.
  MIN_LOG_STD = -5.0
  MAX_LOG_STD = 2.0

  def __init__(self, action_dim: int):
    if action_dim < 1:
      raise ValueError(f'action_dim must be >= 1, got {action_dim}.')
    self.action_dim = action_dim
    self.num_params = 2 * action_dim
    self.action_shape = (action_dim,)
    self.action_dtype = tf.float32

  def _split(self, policy_params):
    mean, log_std = tf.split(policy_params, 2, axis=-1)
    return mean, tf.clip_by_value(log_std, self.MIN_LOG_STD, self.MAX_LOG_STD)

  def log_prob(self, policy_params, actions, epsilon: float = 0.0):
    """log π(a|x) summed over action dimensions, float [...].

    epsilon is applied to the density, as for the categorical case.
    """
    mean, log_std = self._split(policy_params)
    z = (actions - mean) * tf.exp(-log_std)
    log_density = tf.reduce_sum(
        -0.5 * tf.square(z) - log_std - 0.5 * math.log(2.0 * math.pi), axis=-1)
    if epsilon:
      return tf.math.log(tf.exp(log_density) + epsilon)
    return log_density

  def entropy(self, policy_params):
    """Σ_d (½ log(2πe) + log σ_d), float [...]."""
    _, log_std = self._split(policy_params)
    return tf.reduce_sum(log_std + 0.5 * math.log(2.0 * math.pi * math.e), axis=-1)

  def kl(self, p_params, q_params):
    """KL(p ‖ q) of two diagonal Gaussians, summed over dimensions, [...]."""
    p_mean, p_log_std = self._split(p_params)
    q_mean, q_log_std = self._split(q_params)
    return tf.reduce_sum(
        q_log_std - p_log_std
        + (tf.exp(2.0 * p_log_std) + tf.square(p_mean - q_mean)) / (2.0 * tf.exp(2.0 * q_log_std))
        - 0.5, axis=-1)

  def sample(self, policy_params, seed):
    """Samples float32 actions [..., ACTION_DIM] with a stateless seed."""
    mean, log_std = self._split(policy_params)
    noise = tf.random.stateless_normal(tf.shape(mean), seed=seed, dtype=mean.dtype)
    return mean + tf.exp(log_std) * noise

  def mode(self, policy_params):
    """The mean action, float32 [..., ACTION_DIM]."""
    mean, _ = self._split(policy_params)
    return mean


def for_action_space(action_space):
  """Returns the distribution matching a gymnasium action space."""
  # Imported lazily so the maths modules do not depend on gymnasium.
  from gymnasium import spaces  # pylint: disable=g-import-not-at-top
  if isinstance(action_space, spaces.Discrete):
    return Categorical(int(action_space.n))
  if isinstance(action_space, spaces.Box) and len(action_space.shape) == 1:
    return DiagGaussian(int(action_space.shape[0]))
  raise ValueError(
      f'Unsupported action space {action_space}: impala_tf supports Discrete and '
      'one-dimensional Box action spaces.')
