"""Optimisers against numpy transcriptions of their updates; schedules."""

from absl.testing import parameterized
import numpy as np
import tensorflow as tf

from impala_tf import config as config_lib
from impala_tf import optimizers


def numpy_rmsprop(theta, grads, lr, decay, momentum, eps, inside, ms0):
  """TF1's RMSPropOptimizer (inside=True, ms0=1) or PyTorch's (False, 0)."""
  ms, mom = np.full_like(theta, ms0), np.zeros_like(theta)
  for g in grads:
    ms = decay * ms + (1 - decay) * g * g
    step = lr * g / (np.sqrt(ms + eps) if inside else np.sqrt(ms) + eps)
    mom = momentum * mom + step
    theta = theta - mom
  return theta


def numpy_adam(theta, grads, lr, b1, b2, eps):
  m, v = np.zeros_like(theta), np.zeros_like(theta)
  for t, g in enumerate(grads, start=1):
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g * g
    theta = theta - lr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t) * m / (np.sqrt(v) + eps)
  return theta


def _problem(seed=0):
  rng = np.random.default_rng(seed)
  theta0 = [rng.normal(size=(3, 2)), rng.normal(size=(4,))]
  grads = [[rng.normal(size=t.shape) * 0.1 for t in theta0] for _ in range(6)]
  return theta0, grads


class OptimizersTest(tf.test.TestCase, parameterized.TestCase):

  @parameterized.named_parameters(
      ('paper', True, 1.0, 0.0),
      ('paper_momentum', True, 1.0, 0.9),
      ('pytorch', False, 0.0, 0.0),
      ('pytorch_momentum', False, 0.0, 0.5),
  )
  def test_rmsprop_matches_numpy(self, inside, ms0, momentum):
    theta0, grads = _problem()
    variables = [tf.Variable(t.astype(np.float32)) for t in theta0]
    opt = optimizers.RMSProp(variables, 0.01, decay=0.99, epsilon=1e-3, momentum=momentum,
                             epsilon_inside_sqrt=inside, initial_mean_square=ms0)
    for g in grads:
      before = [v.numpy() for v in variables]
      squares = opt.apply([tf.constant(x, tf.float32) for x in g])
      for b, v, s in zip(before, variables, squares):
        self.assertAllClose(np.sum((v.numpy() - b) ** 2), s, rtol=1e-4)
    for i, v in enumerate(variables):
      expected = numpy_rmsprop(theta0[i], [g[i] for g in grads], 0.01, 0.99, momentum, 1e-3,
                               inside, ms0)
      self.assertAllClose(expected, v.numpy(), rtol=1e-5, atol=1e-6)
    self.assertEqual(int(opt.iterations.numpy()), len(grads))

  def test_paper_rmsprop_first_step_is_small(self):
    # ms starting at 1 (TF1) instead of 0 (Keras, PyTorch): with gradients
    # far below 1, the first steps are a small fraction of the learning rate.
    theta0, grads = _problem()
    moved = {}
    for ms0 in (0.0, 1.0):
      v = tf.Variable(theta0[0].astype(np.float32))
      optimizers.RMSProp([v], 0.01, epsilon=0.01, initial_mean_square=ms0).apply(
          [tf.constant(grads[0][0], tf.float32)])
      moved[ms0] = np.abs(v.numpy() - theta0[0]).sum()
    self.assertGreater(moved[0.0], 3 * moved[1.0])

  def test_adam_matches_numpy_and_keras(self):
    theta0, grads = _problem(1)
    variables = [tf.Variable(t.astype(np.float32)) for t in theta0]
    keras_vars = [tf.Variable(t.astype(np.float32)) for t in theta0]
    opt = optimizers.Adam(variables, 0.01, beta1=0.9, beta2=0.999, epsilon=1e-5)
    keras_opt = tf.keras.optimizers.Adam(0.01, beta_1=0.9, beta_2=0.999, epsilon=1e-5)
    for g in grads:
      tensors = [tf.constant(x, tf.float32) for x in g]
      opt.apply(tensors)
      keras_opt.apply_gradients(zip(tensors, keras_vars))
    for i, v in enumerate(variables):
      expected = numpy_adam(theta0[i], [g[i] for g in grads], 0.01, 0.9, 0.999, 1e-5)
      self.assertAllClose(expected, v.numpy(), rtol=1e-5, atol=1e-6)
      self.assertAllClose(keras_vars[i].numpy(), v.numpy(), rtol=1e-5, atol=1e-6)

  def test_skip_under_cond_and_hyperparameters_without_retracing(self):
    v = tf.Variable(np.ones(3, np.float32))
    opt = optimizers.RMSProp([v], 0.1, epsilon_inside_sqrt=False, initial_mean_square=0.0)
    traces = []

    @tf.function
    def step(grad, apply):
      traces.append(1)
      return tf.cond(apply, lambda: tf.stack(opt.apply([grad])), lambda: tf.zeros([1]))

    grad = tf.constant([1.0, -1.0, 0.0])
    step(grad, tf.constant(False))
    self.assertAllEqual(np.ones(3), v.numpy())
    self.assertEqual(0, int(opt.iterations.numpy()))
    self.assertAllEqual(np.zeros(3), opt.mean_squares[0].numpy())
    step(grad, tf.constant(True))
    first = 1.0 - v.numpy()[0]
    opt.learning_rate.assign(0.0)   # changed between calls: no retrace
    step(grad, tf.constant(True))
    self.assertAllClose(first, 1.0 - v.numpy()[0])
    self.assertLen(traces, 1)
    self.assertEqual(2, int(opt.iterations.numpy()))

  def test_make_optimizer(self):
    v = [tf.Variable(np.zeros(2, np.float32))]
    cfg = config_lib.ImpalaConfig(optimizer='adam', adam_epsilon=1e-5)
    self.assertIsInstance(optimizers.make_optimizer(cfg, v), optimizers.Adam)
    cfg = config_lib.ImpalaConfig(rmsprop_initial_mean_square=0.0,
                                  rmsprop_epsilon_inside_sqrt=False)
    opt = optimizers.make_optimizer(cfg, v)
    self.assertIsInstance(opt, optimizers.RMSProp)
    self.assertFalse(opt.epsilon_inside_sqrt)
    self.assertAllEqual([0.0, 0.0], opt.mean_squares[0].numpy())


class ScheduleTest(tf.test.TestCase):

  def test_linear_decay_over_its_own_horizon(self):
    cfg = config_lib.ImpalaConfig(lr_schedule='linear', lr_decay_frames=1000,
                                  total_environment_frames=10)
    factor = lambda f: float(optimizers.learning_rate_factor(cfg, f))
    self.assertAllClose([1.0, 0.75, 0.0, 0.0], [factor(0), factor(250), factor(1000),
                                                 factor(5000)])
    # The training budget does not enter the schedule.
    longer = config_lib.ImpalaConfig(lr_schedule='linear', lr_decay_frames=1000,
                                     total_environment_frames=10**9)
    self.assertAllClose(0.75, optimizers.learning_rate_factor(longer, 250))

  def test_cosine_constant_end_factor_and_warmup(self):
    cos = config_lib.ImpalaConfig(lr_schedule='cosine', lr_decay_frames=1000,
                                  lr_end_factor=0.1)
    self.assertAllClose(1.0, optimizers.learning_rate_factor(cos, 0))
    self.assertAllClose(0.1 + 0.9 * 0.5, optimizers.learning_rate_factor(cos, 500))
    self.assertAllClose(0.1, optimizers.learning_rate_factor(cos, 2000))
    const = config_lib.ImpalaConfig(lr_schedule='constant', lr_warmup_frames=100)
    self.assertAllClose([0.0, 0.5, 1.0, 1.0],
                        [optimizers.learning_rate_factor(const, f) for f in (0, 50, 100, 10**9)])

  def test_entropy_cost_factor_decays_over_the_learning_rates_span(self):
    cfg = config_lib.ImpalaConfig(entropy_schedule='cosine', entropy_end_factor=0.2,
                                  lr_decay_frames=1000, lr_schedule='constant')
    factor = lambda f: float(optimizers.entropy_cost_factor(cfg, f))
    self.assertAllClose([1.0, 0.2 + 0.8 * 0.5, 0.2, 0.2],
                        [factor(0), factor(500), factor(1000), factor(10**9)])
    # The default schedule leaves the cost constant.
    self.assertAllClose(1.0, optimizers.entropy_cost_factor(config_lib.ImpalaConfig(), 10**9))

  def test_entropy_cost_decay_starting_late(self):
    cfg = config_lib.ImpalaConfig(entropy_schedule='linear', entropy_end_factor=0.0,
                                  entropy_decay_start_frames=600, lr_decay_frames=1000)
    factor = lambda f: float(optimizers.entropy_cost_factor(cfg, f))
    # Full cost until frame 600, then linear to 0 at frame 1000.
    self.assertAllClose([1.0, 1.0, 0.75, 0.25, 0.0, 0.0],
                        [factor(0), factor(600), factor(700), factor(900), factor(1000),
                         factor(10**9)])
    with self.assertRaisesRegex(ValueError, r'entropy_decay_start_frames must be in \[0, '
                                r'lr_decay_frames=1000\).*got 1000'):
      config_lib.ImpalaConfig(entropy_schedule='linear', entropy_decay_start_frames=1000,
                              lr_decay_frames=1000).validate()


if __name__ == '__main__':
  tf.test.main()
