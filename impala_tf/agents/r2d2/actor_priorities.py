"""A new sequence's priority, computed by the actor that wrote it.

R2D2 follows Ape-X (Horgan et al. 2018) here: an actor gives each sequence it
inserts the priority of its TD errors, computed from the Q values it acted
with, rather than a fixed value. The formula is the learner's
(`losses.r2d2_loss`: n-step targets, value rescaling, the same trained steps
after burn-in, p = η max|δ| + (1 − η) mean|δ|), with two differences:

- the Q values come from the true history (the state the actor carried),
  not from a burn-in over a stored state;
- the actor holds one network, so it both picks and values the bootstrap
  action (max_a Q instead of double Q's Q_target(argmax_a Q_online)).

Plain numpy: actors run no eager TensorFlow per step (docs/results.md,
"Memory").
"""

import numpy as np


def value_rescale(x, epsilon: float):
  return np.sign(x) * (np.sqrt(np.abs(x) + 1.0) - 1.0) + epsilon * x


def inverse_value_rescale(x, epsilon: float):
  root = (np.sqrt(1.0 + 4.0 * epsilon * (np.abs(x) + 1.0 + epsilon)) - 1.0) / (2.0 * epsilon)
  return np.sign(x) * (np.square(root) - 1.0)


def sequence_priority(q_values, actions, rewards, discounts, mask, burn_in: int, n: int,
                      epsilon: float = 1e-3, eta: float = 0.9) -> float:
  """The priority of one sequence of L steps from the actor's Q values.

  Args:
    q_values: [L, A], the Q values the actor computed at each step (in the
      rescaled space; anything finite on padding).
    actions: int [L]; rewards, discounts, mask: [L] (see `losses`).
    burn_in: leading steps the learner does not train on.
    n, epsilon, eta: the n-step return, ε of h, η of the priority.
  Returns:
    η max_t |δ_t| + (1 − η) mean_t |δ_t| over the steps the learner trains;
    0 if it trains none.
  """
  q = np.asarray(q_values, np.float64)[burn_in:]
  actions = np.asarray(actions)[burn_in:]
  rewards, discounts, mask = (np.asarray(x, np.float64)[burn_in:]
                              for x in (rewards, discounts, mask))
  t_len = len(mask)
  if not 1 <= n < t_len:
    raise ValueError(f'n must be in [1, {t_len}) for {t_len} steps after burn-in, got {n}.')
  # Every step has a target where its return stays in the sequence (the
  # learner's `losses.trained_mask`): past the end, rewards and discounts of 0.
  pad = lambda x: np.concatenate([x, np.zeros(n)])
  rewards_p, discounts_p = pad(rewards), pad(discounts)
  ret = np.zeros(t_len)
  scale = np.ones(t_len)
  for k in range(n):
    ret += scale * rewards_p[k:t_len + k]
    scale *= discounts_p[k:t_len + k]
  bootstrap = pad(inverse_value_rescale(q[n:].max(axis=-1), epsilon))
  targets = value_rescale(ret + scale * bootstrap, epsilon)
  errors = np.abs(targets - q[np.arange(t_len), actions])
  # Trained: a real step whose n-step return stays on real steps (the state
  # n on is real, or the episode ended on the way inside the sequence).
  ended = pad((discounts == 0.0) * mask)
  stops = np.max([ended[k:t_len + k] for k in range(n)], axis=0)
  trained = mask * np.maximum(pad(mask)[n:], stops)
  count = trained.sum()
  if count == 0:
    return 0.0
  errors = errors * trained
  return float(eta * errors.max() + (1.0 - eta) * errors.sum() / count)
