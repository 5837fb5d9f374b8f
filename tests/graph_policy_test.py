"""GraphPolicy, the actor's Session-run acting step, against the eager network."""

import sys

from absl.testing import parameterized
import numpy as np
import tensorflow as tf

from impala_tf import config as config_lib
from impala_tf import environments
from impala_tf import graph_policy
from impala_tf import networks

E = 5


def _setup(use_lstm, normalize=False):
  config = config_lib.ImpalaConfig(env_id='CartPole-v1', torso='mlp', action_repeat=1,
                                   envs_per_actor=E, batch_size=E, use_lstm=use_lstm,
                                   lstm_units=8, observation_normalization=normalize)
  spec = environments.env_spec(config)
  net = networks.make_network(config, spec.observation_shape, spec.distribution)
  # Non-trivial weights (and normaliser statistics, positive variances), so a
  # missed copy could not pass unnoticed.
  rng = np.random.default_rng(1)
  for v in net.variables:
    value = rng.normal(0, 0.5, v.shape).astype(np.float32)
    v.assign(np.abs(value) + 0.1 if v.name.endswith(('var:0', 'count:0')) else value)
  policy = graph_policy.GraphPolicy(config, spec, E, seed=(3, 1))
  return config, spec, net, policy


def _inputs(seed):
  rng = np.random.default_rng(seed)
  return networks.NetworkInput(
      observation=rng.normal(size=(E, 4)).astype(np.float32),
      first=np.array([True, False, False, True, False]),
      prev_action=rng.integers(0, 2, E).astype(np.int32),
      prev_reward=rng.normal(size=E).astype(np.float32))


class GraphPolicyTest(tf.test.TestCase, parameterized.TestCase):

  @parameterized.parameters((False, False), (True, False), (False, True))
  def test_matches_the_eager_network(self, use_lstm, normalize):
    _, spec, net, policy = _setup(use_lstm, normalize)
    policy.set_weights([v.numpy() for v in net.variables])
    for got, want in zip(policy.get_weights(), net.variables):
      self.assertAllEqual(got, want.numpy())
    state = policy.initial_state()
    eager_state = net.initial_state(E)
    if use_lstm:  # start from a non-zero state
      state = tuple(np.full((E, 8), 0.25 * (i + 1), np.float32) for i in range(2))
      eager_state = tuple(tf.constant(s) for s in state)
    for t in range(4):
      inputs = _inputs(t)
      action, params, state = policy.step(inputs, state, counter=t)
      outputs, eager_state = net.step(inputs, eager_state)
      self.assertAllClose(params, outputs.policy_params, atol=1e-5)
      for s, eager_s in zip(tf.nest.flatten(state), tf.nest.flatten(eager_state)):
        self.assertAllClose(s, eager_s, atol=1e-5)
      seed = tf.constant([3 * 1_000_003 + 1, t], tf.int64)
      self.assertAllEqual(action, spec.distribution.sample(outputs.policy_params, seed))
      self.assertEqual(action.dtype, np.int32)
      self.assertEqual(action.shape, (E,))

  def test_acts_with_its_tasks_observation_statistics(self):
    config = config_lib.ImpalaConfig(env_id='CartPole-v1', torso='mlp', action_repeat=1,
                                     envs_per_actor=E, batch_size=2 * E, num_actors=2,
                                     tasks=('CartPole-v1', 'CartPole-v1'),
                                     observation_normalization=True)
    spec = environments.env_spec(config)
    net = networks.make_network(config, spec.observation_shape, spec.distribution)
    self.assertTrue(net.normalizes_per_task)
    rng = np.random.default_rng(4)
    for v in net.variables:
      value = rng.normal(0, 0.5, v.shape).astype(np.float32)
      v.assign(np.abs(value) + 0.1 if v.name.endswith(('var:0', 'count:0')) else value)
    inputs = _inputs(0)
    params = []
    for task_id in (0, 1):
      policy = graph_policy.GraphPolicy(config, spec, E, task_id=task_id)
      policy.set_weights([v.numpy() for v in net.variables])
      _, got, _ = policy.step(inputs, (), counter=0)
      want, _ = net.step(inputs, (), np.full(E, task_id, np.int32))
      self.assertAllClose(want.policy_params, got, atol=1e-5)
      params.append(got)
    self.assertNotAllClose(params[0], params[1])

  def test_the_counter_seeds_the_sample(self):
    _, _, net, policy = _setup(False)
    policy.set_weights([np.zeros(v.shape, np.float32) for v in net.variables])  # uniform
    inputs = _inputs(0)
    draws = np.stack([policy.step(inputs, (), counter=c)[0] for c in range(20)])
    self.assertAllEqual(draws, np.stack([policy.step(inputs, (), counter=c)[0]
                                         for c in range(20)]))
    self.assertGreater(len({tuple(d) for d in draws}), 1)

  def test_bad_weights_are_named(self):
    _, _, net, policy = _setup(False)
    values = [v.numpy() for v in net.variables]
    n = len(values)  # MLP 64-64: 2 hidden layers + 2 heads, kernel and bias each
    self.assertEqual(n, 8)
    with self.assertRaisesRegex(ValueError, f'expected {n} weight arrays, got {n - 1}'):
      policy.set_weights(values[:-1])
    values[0] = values[0][:1]
    with self.assertRaisesRegex(ValueError, r'have shape \(1, 64\), expected \(4, 64\)'):
      policy.set_weights(values)

  def test_no_python_heap_growth_per_step(self):
    """TF 2.15 under Python 3.11 leaks one Python heap block per EagerTensor
    (tensorflow/tensorflow#62551). The Session path creates none; the control,
    the same step as a tf.function fed numpy, shows the measurement sees it."""
    _, spec, net, policy = _setup(True)
    inputs = _inputs(0)
    steps = 3000

    def blocks_per_step(step):
      for i in range(2000):  # Python's own free lists and caches settle
        step(i)
      before = sys.getallocatedblocks()
      for i in range(steps):
        step(i)
      return (sys.getallocatedblocks() - before) / steps

    state = policy.initial_state()
    graph_growth = blocks_per_step(lambda i: policy.step(inputs, state, i))

    @tf.function
    def eager_step(inputs, state):
      outputs, state = net.step(inputs, state)
      return outputs.policy_params, state

    eager_state = tuple(np.zeros((E, 8), np.float32) for _ in range(2))
    function_growth = blocks_per_step(
        lambda i: tf.nest.map_structure(lambda x: x.numpy(), eager_step(inputs, eager_state)))
    del spec
    self.assertLess(graph_growth, 0.05)
    self.assertGreater(function_growth, 3.0)  # 6 inputs + 3 outputs per call


if __name__ == '__main__':
  tf.test.main()
