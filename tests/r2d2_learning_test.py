"""R2D2's learner pieces: burn-in, stored state, the target network's schedule,
the step's loss reduction and its gradient statistics."""

import reverb
import numpy as np
import tensorflow as tf

from impala_tf import config as config_lib
from impala_tf import environments
from impala_tf import networks
from impala_tf.agents.r2d2 import learner_step
from impala_tf.agents.r2d2 import learning
from impala_tf.agents.r2d2 import progress
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


def _step_and_sample(reduction, adam_epsilon=1e-3):
  """An R2D2 learner step on CartPole (one device) and a sampled batch of
  four sequences, as Reverb hands them to it (batch-major)."""
  config = config_lib.ImpalaConfig(
      env_id='CartPole-v1', architecture='r2d2', torso='mlp', action_repeat=1,
      mlp_hidden_sizes=(16,), use_lstm=True, lstm_units=_UNITS, envs_per_actor=4,
      batch_size=4, reward_clipping='none', optimizer='adam', learning_rate=1e-3,
      adam_epsilon=adam_epsilon, lr_schedule='constant', grad_clip_norm=1.0,
      r2d2=dict(head_hidden=16, sequence_length=10, burn_in=4, sequence_period=5, n_step=3,
                target_period=100, loss_reduction=reduction))
  config.validate()
  step = learner_step.R2D2Step(config, environments.env_spec(config),
                               tf.distribute.get_strategy())
  step.bind(None, progress.ProgressReader(None))   # metrics read the replay ratio
  rng = np.random.default_rng(3)
  b, length = 4, 14
  data = {
      'observation': rng.normal(size=(b, length, 4)).astype(np.float32),
      'first': np.zeros((b, length), bool),
      'prev_action': rng.integers(0, 2, (b, length)).astype(np.int32),
      'prev_reward': rng.normal(size=(b, length)).astype(np.float32),
      'action': rng.integers(0, 2, (b, length)).astype(np.int32),
      'reward': rng.normal(size=(b, length)).astype(np.float32),
      'discount': np.full((b, length), config.discount, np.float32),
      'mask': np.ones((b, length), np.float32),
      'weights_version': np.zeros(b, np.int64),
      'core_state': tuple(rng.normal(size=(b, _UNITS)).astype(np.float32) for _ in range(2)),
  }
  data['discount'][1, 9], data['mask'][1, 10:] = 0.0, 0.0   # an episode ends in one
  info = reverb.SampleInfo(
      key=np.arange(b, dtype=np.uint64), probability=np.full(b, 0.01),
      table_size=np.full(b, 100, np.int64), priority=np.ones(b),
      times_sampled=np.ones(b, np.int32))
  return config, step, reverb.ReplaySample(info=info, data=data)


class StepTest(tf.test.TestCase):

  def _reference_gradients(self, config, step, sample):
    """The loss's gradients, computed outside the step, clipped as it clips."""
    time_major = lambda x: tf.transpose(x, [1, 0] + list(range(2, x.ndim)))
    d = sample.data
    batch = learning.SequenceBatch(
        *(tf.constant(time_major(d[k])) for k in learning.SequenceBatch._fields[:-1]),
        start_state=tuple(tf.constant(s) for s in d['core_state']))
    with tf.GradientTape() as tape:
      out = learning.sequence_loss(step.network, step.target_network, batch,
                                   config.r2d2.burn_in, config.r2d2.n_step, 1e-3, 0.9,
                                   reduction=config.r2d2.loss_reduction)
    grads = tape.gradient(out.loss, step.network.trainable_variables)
    return out, tf.clip_by_global_norm(grads, config.grad_clip_norm)[0]

  def test_grad_rms_over_epsilon_per_variable(self):
    config, step, sample = _step_and_sample('sum_over_time', adam_epsilon=1e-3)
    out, clipped = self._reference_gradients(config, step, sample)
    stats, _, _ = step.train_on_batch(iter(tf.data.Dataset.from_tensors(sample)))
    metrics = step.metrics(stats.numpy(), 0)
    want = {learner_step.variable_tag(v): np.sqrt(np.mean(np.square(g.numpy()))) / 1e-3
            for v, g in zip(step.network.trainable_variables, clipped)}
    self.assertLen(want, len(step.network.trainable_variables))
    for tag, value in want.items():
      self.assertAllClose(metrics[f'optimizer/grad_rms_over_epsilon/{tag}'], value,
                          rtol=1e-4)
    self.assertAllClose(metrics['optimizer/grad_rms_over_epsilon_min'],
                        min(want.values()), rtol=1e-4)
    self.assertAllClose(metrics['optimizer/grad_rms_over_epsilon_median'],
                        np.median(list(want.values())), rtol=1e-4)
    self.assertAllClose(metrics['loss/total'], out.loss, rtol=1e-5)

  def test_the_step_reduces_as_configured(self):
    # The same weights and batch: summed over time, the loss is the mean's
    # times the trained steps per sequence.
    losses = {}
    for reduction in ('sum_over_time', 'mean'):
      tf.keras.utils.set_random_seed(0)
      config, step, sample = _step_and_sample(reduction)
      stats, _, _ = step.train_on_batch(iter(tf.data.Dataset.from_tensors(sample)))
      metrics = step.metrics(stats.numpy(), 0)
      losses[reduction] = metrics['loss/total']
      trained = metrics['replay/trained_steps']
    # 7 of 10 steps in three sequences (the last n = 3 only bootstrap), and
    # all 6 real steps of the one whose episode ends at its 6th.
    self.assertEqual(trained, 3 * 7 + 6)
    self.assertAllClose(losses['sum_over_time'] / losses['mean'], trained / 4, rtol=1e-5)


if __name__ == '__main__':
  tf.test.main()
