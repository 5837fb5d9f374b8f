"""FTW's two-timescale core (impala_tf/agents/ftw/networks.py): the slow
core's ticks, state across unroll boundaries, the KL terms against numpy and
the fast→slow gradient scale."""

import numpy as np
import tensorflow as tf

from impala_tf import networks
from impala_tf.agents.ftw import config as ftw_config
from impala_tf.agents.ftw import networks as ftw_networks

OBS = 5
ACTIONS = 3


def make(**fields):
  cfg = ftw_config.FtwConfig(fast_units=8, slow_units=6, latent_size=4, hidden_size=8,
                             **fields)
  network = ftw_networks.FtwNetwork(
      cfg, num_policy_params=ACTIONS, num_actions=ACTIONS, action_size=0, torso='mlp',
      mlp_hidden_sizes=(8,), torso_output_size=8, channels_first=False,
      reward_clipping='abs_one', initializer='glorot_uniform')
  return network


def inputs(t, b, first_at=(), seed=0):
  rng = np.random.default_rng(seed)
  first = np.zeros((t, b), bool)
  first[0] = True
  for step in first_at:
    first[step] = True
  return networks.NetworkInput(
      observation=tf.constant(rng.normal(size=(t, b, OBS)), tf.float32),
      first=tf.constant(first),
      prev_action=tf.constant(rng.integers(ACTIONS, size=(t, b)), tf.int32),
      prev_reward=tf.constant(rng.normal(size=(t, b)), tf.float32))


def slice_inputs(x, start, stop):
  return tf.nest.map_structure(lambda a: a[start:stop], x)


class SlowCoreTest(tf.test.TestCase):

  def test_the_slow_core_ticks_every_tau_steps_from_each_episode_start(self):
    network = make(slow_period=3)
    x = inputs(12, 2, first_at=(7,))
    _, lat, _ = network.unroll_with_latents(x, network.initial_state(2), sample=False)
    ticked = lat.ticked.numpy()
    # Episode starts at 0 and (for both players) at 7: ticks at 0, 3, 6, then 7, 10.
    expected = np.zeros(12)
    expected[[0, 3, 6, 7, 10]] = 1.0
    self.assertAllEqual(ticked[:, 0], expected)
    self.assertAllEqual(ticked[:, 1], expected)
    # Between ticks the slow state does not move; at a tick it does.
    slow = lat.slow_hidden.numpy()
    for t in range(1, 12):
      moved = not np.allclose(slow[t], slow[t - 1])
      self.assertEqual(moved, bool(expected[t]), t)

  def test_state_carries_over_unroll_boundaries(self):
    network = make(slow_period=4)
    x = inputs(11, 3, first_at=(9,), seed=1)
    whole, lat, final = network.unroll_with_latents(x, network.initial_state(3), sample=False)
    # The same steps as unrolls of 3, 5 and 3, each from the last one's state.
    state, parts, ticks = network.initial_state(3), [], []
    for start, stop in ((0, 3), (3, 8), (8, 11)):
      out, part_lat, state = network.unroll_with_latents(slice_inputs(x, start, stop), state,
                                                         sample=False)
      parts.append(out.policy_params)
      ticks.append(part_lat.ticked)
    self.assertAllClose(tf.concat(parts, 0), whole.policy_params, atol=1e-5)
    self.assertAllEqual(tf.concat(ticks, 0), lat.ticked)
    self.assertAllClose(state.slow[0], final.slow[0], atol=1e-5)
    self.assertAllEqual(final.steps, [2.0, 2.0, 2.0])  # steps 9 and 10 of a new episode

  def test_tau_is_a_variable_pbt_can_set(self):
    network = make(slow_period=5)
    x = inputs(10, 1)
    _, lat, _ = network.unroll_with_latents(x, network.initial_state(1), sample=False)
    self.assertAllEqual(np.nonzero(lat.ticked.numpy()[:, 0])[0], [0, 5])
    self.assertIn(network.slow_period.ref(), {v.ref() for v in network.variables})
    self.assertNotIn(network.slow_period.ref(),
                     {v.ref() for v in network.trainable_variables})
    network.slow_period.assign(2.0)
    _, lat, _ = network.unroll_with_latents(x, network.initial_state(1), sample=False)
    self.assertAllEqual(np.nonzero(lat.ticked.numpy()[:, 0])[0], [0, 2, 4, 6, 8])


def numpy_kl(qm, qs, pm, ps):
  """KL(N(qm, e^qs) ‖ N(pm, e^ps)), summed over the last axis."""
  qv, pv = np.exp(2 * qs), np.exp(2 * ps)
  return np.sum(0.5 * (np.log(pv / qv) + (qv + (qm - pm) ** 2) / pv - 1.0), axis=-1)


class LossTermsTest(tf.test.TestCase):

  def test_kl_terms_match_numpy(self):
    network = make(slow_period=2)
    x = inputs(6, 2, seed=3)
    _, lat, _ = network.unroll_with_latents(x, network.initial_state(2))
    mask = np.ones((6, 2), np.float32)
    mask[5] = 0.0
    terms = network.auxiliary_losses(lat, tf.constant(mask))
    qm, qs, pm, ps = (v.numpy().astype(np.float64) for v in lat[:4])
    self.assertAllClose(terms['ftw_kl'], np.sum(numpy_kl(qm, qs, pm, ps) * mask), rtol=1e-5)
    self.assertAllClose(terms['ftw_prior'],
                        np.sum(numpy_kl(pm, ps, 0 * pm, 0 * ps) * mask), rtol=1e-5)
    self.assertGreater(float(terms['ftw_kl']), 0.0)


class GradientScaleTest(tf.test.TestCase):

  def test_scale_gradient(self):
    x = tf.constant([1.0, -2.0])
    with tf.GradientTape() as tape:
      tape.watch(x)
      y = ftw_networks.scale_gradient(x, 0.3)
      loss = tf.reduce_sum(y * [2.0, 5.0])
    self.assertAllClose(y, x)
    self.assertAllClose(tape.gradient(loss, x), [0.6, 1.5])

  def test_the_slow_core_passes_back_the_scaled_gradient(self):
    # Two steps, a tick at each: the prior at step 1 reads the fast core's
    # variables only through step 0's fast state, passed through g.
    network = make(slow_period=1)
    x = inputs(2, 3, seed=5)
    grads = {}
    for scale in (1.0, 0.25, 0.0):
      network.fast_to_slow_gradient_scale.assign(scale)
      with tf.GradientTape() as tape:
        _, lat, _ = network.unroll_with_latents(x, network.initial_state(3), sample=False)
        loss = tf.reduce_sum(tf.square(lat.prior_mean[1]))
      fast = network._fast_cell.trainable_variables  # pylint: disable=protected-access
      grads[scale] = [g.numpy() for g in tape.gradient(loss, fast)]
    self.assertGreater(sum(np.abs(g).sum() for g in grads[1.0]), 0.0)
    for full, quarter, none in zip(grads[1.0], grads[0.25], grads[0.0]):
      self.assertAllClose(quarter, 0.25 * full, atol=1e-7)
      self.assertAllEqual(none, np.zeros_like(none))


if __name__ == '__main__':
  tf.test.main()
