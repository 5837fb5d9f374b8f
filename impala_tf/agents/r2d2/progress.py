"""What R2D2 actors tell the learner besides their sequences: frames and episodes.

IMPALA's learner counts frames and finished episodes in the unrolls it
consumes, each exactly once. R2D2's learner samples sequences from replay,
some many times and some never, so the actors report progress separately: a
Reverb queue of small items, one per finished episode (its return, length,
task, the ε its environment explored with and the weights version that
took its first action) or, for a block of steps in which none finished, one with
`done` false; each carries the frames stepped since the actor's previous
item. The learner drains the queue at each readiness check, while replay
fills and before every step, so the frame budget counts every frame
stepped, once. Episodes of the ladder's greedy end
(`exploration.greedy_end_epsilon`) are also kept apart: their mean return is
what the policy scores with little exploration, beside the all-ε mean.
"""

import collections

import numpy as np
import reverb
import tensorflow as tf

from impala_tf import trajectories

PROGRESS_TABLE = 'r2d2_progress'
# Items the queue holds: the learner drains it continuously, this is slack
# for a learner busy compiling its first step.
CAPACITY = 1_000_000

SIGNATURE = {
    'frames': tf.TensorSpec([], tf.int64),
    'done': tf.TensorSpec([], tf.bool),
    'return': tf.TensorSpec([], tf.float32),
    'length': tf.TensorSpec([], tf.int32),
    'task': tf.TensorSpec([], tf.int32),
    'epsilon': tf.TensorSpec([], tf.float32),
    'start_version': tf.TensorSpec([], tf.int64),
}
# Episodes the learner's all-ε mean is over (its last 100).
ALL_EPISODES = 100


def table() -> reverb.Table:
  return reverb.Table.queue(PROGRESS_TABLE, CAPACITY, signature=SIGNATURE)


def items(frames: int, episodes):
  """The items of one block of steps: `episodes` = [(return, length, task,
  ε, start version)] finished in it; the block's `frames` ride on the first
  item."""
  rows = [(True, *episode) for episode in episodes] or [(False, 0.0, 0, 0, 1.0, -1)]
  return [{'frames': np.int64(frames if i == 0 else 0), 'done': np.bool_(done),
           'return': np.float32(ret), 'length': np.int32(length), 'task': np.int32(task),
           'epsilon': np.float32(epsilon), 'start_version': np.int64(version)}
          for i, (done, ret, length, task, epsilon, version) in enumerate(rows)]


class ProgressReader:
  """The learner's side: drains the queue, keeps what a step has not yet
  reported."""

  def __init__(self, client: reverb.Client, greedy_epsilon: float = None,
               greedy_share: float = 1.0):
    """`greedy_epsilon`: episodes explored with at most this ε are the
    greedy end's (`exploration.greedy_end_epsilon`); None keeps none.
    `greedy_share`: the greedy end's share of the environments. Its mean is
    over its last `greedy_share` × 100 episodes (at least one), so that it
    spans about the same stretch of training as the all-ε mean over 100
    (a quarter of the environments finish about a quarter of the
    episodes)."""
    self._client = client
    self._frames = 0
    self._episodes = []   # trajectories.EPISODE_ROWS but done
    self.samples_per_insert = 0.0   # replay's measured ratio, over the run so far
    self._greedy_epsilon = greedy_epsilon
    self.greedy_end_returns = collections.deque(
        maxlen=max(1, round(ALL_EPISODES * greedy_share)))

  def drain(self, server_info, replay_table=None):
    """Takes the queue's items; `server_info` is a `Client.server_info()`
    the caller just read (it needs the replay table's size too). With
    `replay_table`, also reads that table's samples per insert so far."""
    if replay_table is not None:
      stats = server_info[replay_table].rate_limiter_info
      inserts = stats.insert_stats.completed
      self.samples_per_insert = stats.sample_stats.completed / inserts if inserts else 0.0
    size = server_info[PROGRESS_TABLE].current_size
    if not size:
      return
    for sample in self._client.sample(PROGRESS_TABLE, num_samples=size,
                                      emit_timesteps=False, unpack_as_table_signature=True):
      data = sample.data
      self._frames += int(data['frames'])
      if bool(data['done']):
        self._episodes.append((float(data['return']), int(data['length']),
                               int(data['task']), int(data['start_version'])))
        if self._greedy_epsilon is not None and data['epsilon'] <= self._greedy_epsilon:
          self.greedy_end_returns.append(float(data['return']))

  def take(self):
    """(frames, episodes float32 [5, N]: trajectories.EPISODE_ROWS) since
    the last take, in the form IMPALA's step reports its episodes."""
    frames, episodes = self._frames, self._episodes
    self._frames, self._episodes = 0, []
    rows = len(trajectories.EPISODE_ROWS)
    table_rows = np.array([[1.0, *episode] for episode in episodes],
                          np.float32).reshape(-1, rows)
    return frames, table_rows.T
