"""Batch layout and the time alignment of the loss inputs."""

import numpy as np
import tensorflow as tf

from impala_tf import trajectories


class TrajectoriesTest(tf.test.TestCase):

  def test_to_time_major_merges_items_into_batch(self):
    k, t, e = 3, 4, 2
    obs = np.arange(k * (t + 1) * e).reshape(k, t + 1, e).astype(np.float32)
    state = np.arange(k * e * 5).reshape(k, e, 5).astype(np.float32)
    batch = trajectories.to_time_major({'observation': obs, 'core_state': (state, state)})
    self.assertEqual(batch['observation'].shape, (t + 1, k * e))
    # Trajectory j of the batch is env j % e of item j // e.
    for j in range(k * e):
      self.assertAllEqual(batch['observation'][:, j], obs[j // e, :, j % e])
      self.assertAllEqual(batch['core_state'][0][j], state[j // e, j % e])

  def test_loss_inputs_alignment(self):
    # One trajectory, T = 3: x0 → x1 (terminal) → reset step x1 → x2 (first) → x3.
    batch = {
        'reward': np.array([[0.0], [5.0], [0.0], [2.0]], np.float32),
        'terminal': np.array([[False], [True], [False], [False]]),
        'last': np.array([[False], [True], [False], [False]]),
        'action': np.array([[1], [0], [2]], np.int32),
        'policy_params': np.zeros((3, 1, 3), np.float32),
    }
    inputs = trajectories.loss_inputs(batch, discount=0.9)
    self.assertAllClose([[5.0], [0.0], [2.0]], inputs.rewards)       # r_t = reward[t+1]
    self.assertAllClose([[0.0], [0.9], [0.9]], inputs.discounts)     # 0 into the terminal
    self.assertAllClose([[1.0], [0.0], [1.0]], inputs.mask)          # reset step masked
    self.assertAllEqual([[1], [0], [2]], inputs.actions)

  def test_signature_lengths(self):
    spec = {'observation': tf.TensorSpec([2, 4], tf.float32),
            'action': tf.TensorSpec([2], tf.int32),
            'core_state': (tf.TensorSpec([2, 8], tf.float32),) * 2}
    sig = trajectories.item_signature(spec, unroll_length=20)
    self.assertEqual(sig['observation'].shape, (21, 2, 4))
    self.assertEqual(sig['action'].shape, (20, 2))
    self.assertEqual(sig['core_state'][0].shape, (2, 8))


if __name__ == '__main__':
  tf.test.main()
