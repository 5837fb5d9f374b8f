"""PaperRMSprop against a numpy transcription of TF1's RMSProp update."""

import numpy as np
import tensorflow as tf

from impala_tf import config as config_lib
from impala_tf import optimizers


def tf1_rmsprop(theta, grads, lr, decay, momentum, eps):
  ms, mom = np.ones_like(theta), np.zeros_like(theta)
  for g in grads:
    ms = decay * ms + (1 - decay) * g * g
    mom = momentum * mom + lr * g / np.sqrt(ms + eps)
    theta = theta - mom
  return theta


class PaperRMSpropTest(tf.test.TestCase):

  def _run(self, momentum):
    rng = np.random.default_rng(0)
    theta0 = rng.normal(size=(3, 2)).astype(np.float32)
    grads = [rng.normal(size=(3, 2)).astype(np.float32) * 0.1 for _ in range(5)]
    var = tf.Variable(theta0)
    opt = optimizers.PaperRMSprop(learning_rate=0.01, rho=0.99, momentum=momentum,
                                  epsilon=0.01)
    for g in grads:
      opt.apply_gradients([(tf.constant(g), var)])
    expected = tf1_rmsprop(theta0.astype(np.float64), grads, 0.01, 0.99, momentum, 0.01)
    self.assertAllClose(expected, var.numpy(), rtol=1e-5, atol=1e-6)
    # The Keras original (ms starting at 0) moves much further on step one.
    keras_var = tf.Variable(theta0)
    tf.keras.optimizers.RMSprop(0.01, rho=0.99, momentum=momentum, epsilon=0.01) \
        .apply_gradients([(tf.constant(grads[0]), keras_var)])
    paper_first = tf1_rmsprop(theta0, grads[:1], 0.01, 0.99, momentum, 0.01)
    self.assertGreater(np.abs(keras_var.numpy() - theta0).sum(),
                       3 * np.abs(paper_first - theta0).sum())

  def test_matches_tf1(self):
    self._run(momentum=0.0)

  def test_matches_tf1_with_momentum(self):
    self._run(momentum=0.9)

  def test_schedule_decays_linearly_to_zero(self):
    cfg = config_lib.ImpalaConfig(total_environment_frames=2560 * 10)
    schedule = optimizers.learning_rate_schedule(cfg)
    self.assertAllClose(0.0006, schedule(0))
    self.assertAllClose(0.0003, schedule(5))
    self.assertAllClose(0.0, schedule(10))
    self.assertAllClose(0.0, schedule(20))


if __name__ == '__main__':
  tf.test.main()
