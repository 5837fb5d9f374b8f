"""A3C: an actor's gradients equal the learner's loss gradients for the same
data and weights (the end-to-end run is in architectures_test)."""

import numpy as np
import tensorflow as tf

from impala_tf import actor as actor_lib
from impala_tf import environments
from impala_tf import graph_policy
from impala_tf import networks
from impala_tf import train_step
import small_runs  # tests/small_runs.py


def _config(**kwargs):
  return small_runs.cartpole(**dict(
      dict(batch_size=4, architecture='a3c', use_lstm=True, lstm_units=8), **kwargs))


class A3CTest(tf.test.TestCase):

  def test_actor_gradients_equal_the_learner_loss_gradients(self):
    config = _config()
    spec = environments.env_spec(config)
    net = networks.make_network(config, spec.observation_shape, spec.distribution)
    rng = np.random.default_rng(0)
    for v in net.variables:
      v.assign(rng.normal(0, 0.3, v.shape).astype(np.float32))
    policy = graph_policy.GraphPolicy(config, spec, 4, gradients=True)
    policy.set_weights([v.numpy() for v in net.variables])
    # A real unroll, acted by the same weights.
    actor = actor_lib.Actor(config, 'unused:0', task=0)
    actor.policy.set_weights([v.numpy() for v in net.variables])
    actor.reset_envs()
    parts, actions = [dict(actor.observation_part())], []
    for _ in range(config.unroll_length):
      actor.act_and_step(lambda p: actions.append(tf.nest.map_structure(np.array, p)))
      parts.append(tf.nest.map_structure(np.array, actor.observation_part()))
    actor.close()
    unroll = {k: np.stack([p[k] for p in parts]) for k in parts[0] if k != 'core_state'}
    unroll.update({k: np.stack([a[k] for a in actions]) for k in actions[0]})
    unroll['core_state'] = tuple(np.full((4, 8), 0.1 * (i + 1), np.float32) for i in range(2))
    flat, sums = policy.gradients(unroll)
    batch = tf.nest.map_structure(tf.constant, unroll)
    grads, _, expected_sums, _ = train_step.loss_and_gradients(
        config, net, spec.distribution, batch, config.entropy_cost, config.baseline_cost)
    expected = np.concatenate([g.numpy().ravel() for g in grads])
    self.assertEqual(flat.shape, expected.shape)
    self.assertAllClose(expected, flat, rtol=1e-4, atol=1e-5)
    self.assertAllClose(expected_sums, sums, rtol=1e-4, atol=1e-5)
    self.assertGreater(np.abs(flat).sum(), 0.0)
    policy.close()


if __name__ == '__main__':
  tf.test.main()
