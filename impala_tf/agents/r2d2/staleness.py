"""Recurrent state staleness: the paper's Figure 1 analysis (Section 3).

A replayed sequence starts from some recurrent state; the "true" state is
the one the current network θ reaches by running over the whole episode.
The paper compares four ways to start a replayed window, on the current
network:

  zero_state             the zero state at the window's first trained step;
  zero_state_burn_in     the zero state `burn_in` steps earlier, those steps
                         replayed first (no gradient in training);
  stored_state           the state the acting network θ' had there (what
                         the actor stored with the sequence);
  stored_state_burn_in   θ''s stored state `burn_in` steps earlier, then the
                         burn-in.

and measures, at each position k of the trained part,
  Δ_k = ‖q(ĥ_k; θ) − q(h_k; θ)‖₂ / |max_a q(h_k; θ)_a|
with ĥ the replayed state and h the true one, averaged over windows. q is the
network's output (the value-rescaled Q). The acting network θ' is an older
checkpoint of the same run: its states are stale the way a replayed
sequence's stored state is.
"""

import dataclasses
from typing import Dict, List

import numpy as np
import tensorflow as tf

from impala_tf import networks

STRATEGIES = ('zero_state', 'zero_state_burn_in', 'stored_state', 'stored_state_burn_in')


@dataclasses.dataclass
class Episode:
  """What an actor saw and did in one episode, and its network's states.

  observation [T, ...]; first, prev_action, prev_reward [T]; acting_state: the
  acting network's (h, c) before each step, each [T, UNITS].
  """
  observation: np.ndarray
  first: np.ndarray
  prev_action: np.ndarray
  prev_reward: np.ndarray
  acting_state: tuple

  def __len__(self):
    return len(self.first)


def record_episodes(network, env, count: int, epsilon: float, seed: int) -> List[Episode]:
  """`count` whole episodes of `env` (one environment) acted ε-greedily by
  `network`, with the state it had before each step."""
  rng = np.random.default_rng(seed)
  num_actions = env.spec.action_space.n
  observation = env.reset()
  first, prev_action, prev_reward = True, 0, 0.0
  state = network.initial_state(1)
  episodes, steps = [], []
  while len(episodes) < count:
    step = networks.NetworkInput(observation=tf.convert_to_tensor(observation),
                                 first=tf.constant([first]),
                                 prev_action=tf.constant([prev_action], tf.int32),
                                 prev_reward=tf.constant([prev_reward], tf.float32))
    output, new_state = network.step(step, state)
    steps.append((observation[0], first, prev_action, prev_reward,
                  tuple(np.asarray(s[0]) for s in state)))
    q = output.policy_params.numpy()[0]
    action = int(rng.integers(num_actions)) if rng.random() < epsilon else int(np.argmax(q))
    observation, reward, terminated, truncated = env.step(np.array([action]))
    state = new_state
    first, prev_action, prev_reward = False, action, float(reward[0])
    if terminated[0] or truncated[0]:
      episodes.append(_episode(steps))
      steps = []
      # gymnasium's next-step autoreset: this step starts the next episode.
      observation, _, _, _ = env.step(np.array([0]))
      first, prev_action, prev_reward = True, 0, 0.0
  return episodes


def _episode(steps) -> Episode:
  observation, first, prev_action, prev_reward, states = zip(*steps)
  return Episode(np.stack(observation), np.array(first), np.array(prev_action, np.int32),
                 np.array(prev_reward, np.float32),
                 tuple(np.stack([s[i] for s in states]) for i in range(len(states[0]))))


def _unroll(network, episode_slices, start_state):
  """q [T, N, A] of `network` over N time-major windows from `start_state`."""
  inputs = networks.NetworkInput(*(
      tf.convert_to_tensor(np.stack([getattr(s, name) for s in episode_slices], axis=1))
      for name in ('observation', 'first', 'prev_action', 'prev_reward')))
  q, _ = network.unroll(inputs, tuple(tf.convert_to_tensor(s) for s in start_state))
  return q.numpy()


def _slice(episode: Episode, start: int, end: int) -> Episode:
  return Episode(episode.observation[start:end], episode.first[start:end],
                 episode.prev_action[start:end], episode.prev_reward[start:end],
                 tuple(s[start:end] for s in episode.acting_state))


def discrepancy(q_replayed: np.ndarray, q_true: np.ndarray) -> np.ndarray:
  """Δ = ‖q̂ − q‖₂ / |max_a q| over the last axis."""
  return (np.linalg.norm(q_replayed - q_true, axis=-1)
          / np.maximum(np.abs(q_true.max(axis=-1)), 1e-8))


def measure(network, episodes: List[Episode], length: int, burn_in: int,
            period: int) -> Dict[str, np.ndarray]:
  """Mean Δ_k [length] per strategy over every window of `burn_in + length`
  steps that starts on the period grid within an episode."""
  if burn_in < 1:
    raise ValueError(f'burn_in must be at least 1, got {burn_in}.')
  true, replayed, starts = [], {s: [] for s in STRATEGIES}, []
  for episode in episodes:
    q_true = _unroll(network, [episode], tuple(s[:1] * 0 for s in episode.acting_state))[:, 0]
    for t0 in range(burn_in, len(episode) - length + 1, period):
      true.append(q_true[t0:t0 + length])
      starts.append((episode, t0))
  if not starts:
    raise ValueError(f'no episode is longer than burn_in + length = {burn_in + length} steps.')
  q_true = np.stack(true, axis=1)   # [length, N, A]
  windows = [_slice(e, t0, t0 + length) for e, t0 in starts]
  burned = [_slice(e, t0 - burn_in, t0 + length) for e, t0 in starts]
  zeros = tuple(np.zeros((len(starts), s.shape[-1]), np.float32)
                for s in episodes[0].acting_state)
  stored = lambda ws: tuple(np.stack([w.acting_state[i][0] for w in ws])
                            for i in range(len(zeros)))
  replayed = {
      'zero_state': _unroll(network, windows, zeros),
      'zero_state_burn_in': _unroll(network, burned, zeros)[burn_in:],
      'stored_state': _unroll(network, windows, stored(windows)),
      'stored_state_burn_in': _unroll(network, burned, stored(burned))[burn_in:],
  }
  return {name: discrepancy(q, q_true).mean(axis=1) for name, q in replayed.items()}
