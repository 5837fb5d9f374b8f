"""R2D2's learner pieces: burn-in, stored state, the target network's schedule."""

import numpy as np
import tensorflow as tf

from impala_tf import networks
from impala_tf.agents.r2d2 import learning
from impala_tf.agents.r2d2 import networks as r2d2_networks

_T, _B, _OBS, _A, _UNITS = 8, 2, 3, 2, 8


def _network():
  net = r2d2_networks.RecurrentQNetwork(
      num_actions=_A, torso='mlp', mlp_hidden_sizes=(16,), use_lstm=True, lstm_units=_UNITS,
      head_hidden=16, reward_clipping='none')
  dummy = networks.NetworkInput(tf.zeros([1, 1, _OBS]), tf.ones([1, 1], tf.bool),
                                tf.zeros([1, 1], tf.int32), tf.zeros([1, 1]))
  net.unroll(dummy, net.initial_state(1))
  return net


def _batch(seed=0, observation=None):
  rng = np.random.default_rng(seed)
  start = tuple(tf.constant(rng.normal(size=(_B, _UNITS)), tf.float32) for _ in range(2))
  return learning.SequenceBatch(
      observation=(tf.constant(rng.normal(size=(_T, _B, _OBS)), tf.float32)
                   if observation is None else observation),
      first=tf.zeros([_T, _B], tf.bool),
      prev_action=tf.constant(rng.integers(0, _A, (_T, _B)), tf.int32),
      prev_reward=tf.constant(rng.normal(size=(_T, _B)), tf.float32),
      action=tf.constant(rng.integers(0, _A, (_T, _B)), tf.int32),
      reward=tf.constant(rng.normal(size=(_T, _B)), tf.float32),
      discount=tf.fill([_T, _B], 0.997),
      mask=tf.ones([_T, _B]),
      start_state=start)


class BurnInTest(tf.test.TestCase):

  def test_burn_in_refreshes_the_stored_state(self):
    # Q after burn-in = the same steps' Q in one unroll from the stored state.
    net, batch = _network(), _batch()
    q_all, _ = net.unroll(learning._inputs(batch, 0, None), batch.start_state)  # pylint: disable=protected-access
    self.assertAllClose(learning.q_values(net, batch, burn_in=3), q_all[3:], rtol=1e-5)
    # And it differs from starting those steps at a zero state.
    zero = batch._replace(start_state=net.initial_state(_B))
    self.assertNotAllClose(learning.q_values(net, batch, burn_in=3),
                           learning.q_values(net, zero, burn_in=3))

  def test_burn_in_steps_receive_no_gradient(self):
    online, target = _network(), _network()
    observation = tf.Variable(_batch().observation)
    burn_in, n = 3, 2

    def gradient(burn):
      with tf.GradientTape() as tape:
        out = learning.sequence_loss(online, target, _batch(observation=observation),
                                     burn_in=burn, n=n, epsilon=1e-3, eta=0.9)
      return np.abs(tape.gradient(out.loss, observation).numpy()).sum(axis=(1, 2))

    g = gradient(burn_in)
    self.assertAllEqual(g[:burn_in], np.zeros(burn_in))           # burn-in: none
    self.assertTrue(np.all(g[burn_in:_T - n] > 0))                 # trained steps
    self.assertAllEqual(g[_T - n:], np.zeros(n))                   # bootstraps only
    # The check can fail: without burn-in the same early steps are trained.
    self.assertTrue(np.all(gradient(0)[:burn_in] > 0))

  def test_loss_is_the_same_compiled(self):
    online, target, batch = _network(), _network(), _batch()
    eager = learning.sequence_loss(online, target, batch, 3, 2, 1e-3, 0.9)
    compiled = tf.function(learning.sequence_loss, reduce_retracing=True)
    out = compiled(online, target, batch, 3, 2, 1e-3, 0.9)
    self.assertAllClose(eager.loss, out.loss, rtol=1e-5)
    self.assertAllClose(eager.priorities, out.priorities, rtol=1e-5)


class TargetNetworkTest(tf.test.TestCase):

  def test_copies_every_period(self):
    online, target = _network(), _network()
    targets = learning.TargetNetwork(online, target, period=3)
    self.assertAllClose(online.variables[0], target.variables[0])
    step = tf.function(targets.after_update)
    for update in range(1, 8):
      for v in online.variables:
        v.assign_add(tf.ones_like(v))
      step()
      same = all(np.allclose(a.numpy(), b.numpy())
                 for a, b in zip(online.variables, target.variables))
      self.assertEqual(same, update % 3 == 0, f'update {update}')
    self.assertEqual(int(targets.updates.numpy()), 7)

  def test_bad_period(self):
    with self.assertRaisesRegex(ValueError, 'target_period'):
      learning.TargetNetwork(_network(), _network(), period=0)


if __name__ == '__main__':
  tf.test.main()
