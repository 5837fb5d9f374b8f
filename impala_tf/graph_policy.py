"""The actor's acting step as a fixed graph run by a Session: numpy in, numpy out.

Why not a `tf.function`: under Python 3.11, TensorFlow 2.15 leaks 16 bytes
of Python heap (plus allocator overhead) for every `EagerTensor` it ever
creates (tensorflow/tensorflow#62551: EagerTensor's type inherits Python
3.11's managed-dict flag and its C deallocator never frees the managed
values). An actor calling a `tf.function` creates ~8 EagerTensors per step
(inputs converted from numpy, outputs), hundreds of millions in a long run:
the soak measured +20 % actor memory in 25 minutes, growing without bound.

A Session feeds numpy arrays straight into the graph and returns numpy
arrays, so the per-step path creates no EagerTensor at all. The graph is
finalized after construction: nothing can add ops (and memory) per call.

The network inside is the same Keras `ImpalaNetwork` the learner trains,
built in this private graph, with its variables in the same order as the
learner's, so published weights (`weights.WeightSubscriber`) load directly.
"""

import numpy as np
import tensorflow as tf

from impala_tf import networks
from impala_tf import train_step
from impala_tf import trajectories


class GraphPolicy:
  """Samples actions for `num_envs` environments with the IMPALA network.

  step(inputs, core_state, counter) -> (action, policy_params, core_state)
    inputs:     networks.NetworkInput of numpy arrays [E, ...];
    core_state: () or the LSTM's (h, c), numpy [E, UNITS];
    counter:    int, the step counter that (with `seed`) seeds the sample:
                the same weights, inputs and counter give the same action.
  """

  def __init__(self, config, env_spec, num_envs: int, seed=(0, 0), threads: int = 0,
               gradients: bool = False, network=None, distribution=None, task_id: int = 0):
    """
    Args:
      task_id: the task these environments run (a network that normalises
        observations or masks actions per task does so for this task).
      gradients: also build the IMPALA loss's gradients for one unroll of
        these environments (an A3C actor computes them, see `gradients()`).
      network: the unbuilt network to act with (default: the config's
        ImpalaNetwork); anything with `step` and `initial_state`.
      distribution: how actions are drawn from the network's
        `policy_params` (default: the action space's distribution).
    """
    dist = distribution or env_spec.distribution
    self.num_envs = e = num_envs
    # Layers are constructed eagerly (see make_network), variables in the graph.
    if network is None:
      network = networks.make_network(config, env_spec.observation_shape,
                                       env_spec.distribution, env_spec.channels_first,
                                       build=False, action_masks=env_spec.action_masks)
    self._graph = tf.Graph()
    with self._graph.as_default():
      placeholder = tf.compat.v1.placeholder
      self._inputs = networks.NetworkInput(
          observation=placeholder(tf.as_dtype(env_spec.observation_dtype),
                                  [e, *env_spec.observation_shape], 'observation'),
          first=placeholder(tf.bool, [e], 'first'),
          prev_action=placeholder(dist.action_dtype, [e, *dist.action_shape], 'prev_action'),
          prev_reward=placeholder(tf.float32, [e], 'prev_reward'))
      self._state = tf.nest.map_structure(
          lambda s: placeholder(s.dtype, s.shape, 'core_state'), network.initial_state(e))
      self._counter = placeholder(tf.int64, [], 'counter')
      if network.needs_task:
        outputs, new_state = network.step(self._inputs, self._state,
                                          tf.fill([e], tf.constant(task_id, tf.int32)))
      else:
        outputs, new_state = network.step(self._inputs, self._state)
      seed_value = np.int64(seed[0]) * 1_000_003 + np.int64(seed[1])
      action = dist.sample(outputs.policy_params,
                           tf.stack([tf.constant(seed_value, tf.int64), self._counter]))
      self.variables = list(network.variables)
      self._values = [placeholder(v.dtype.base_dtype, v.shape, 'value') for v in self.variables]
      assign = tf.group(*[v.assign(p) for v, p in zip(self.variables, self._values)])
      read = [v.read_value() for v in self.variables]
      init = tf.compat.v1.variables_initializer(self.variables)
      self._initial_state = tf.nest.map_structure(
          lambda s: np.zeros(s.shape, s.dtype.as_numpy_dtype), self._state)
      if gradients:
        specs = trajectories.item_signature(
            trajectories.step_spec(env_spec, dist, e, config.lstm_units if config.use_lstm
                                   else 0), config.unroll_length)
        self._unroll = {name: tf.nest.map_structure(
            lambda s: placeholder(s.dtype, s.shape, 'unroll'), spec)
                        for name, spec in specs.items()}
        grads, _, sums, _ = train_step.loss_and_gradients(
            config, network, dist, self._unroll, config.entropy_cost, config.baseline_cost,
            symbolic=True)
        flat_grads = tf.concat([tf.reshape(g, [-1]) for g in grads], 0)
    self._graph.finalize()
    session_config = tf.compat.v1.ConfigProto(
        intra_op_parallelism_threads=threads, inter_op_parallelism_threads=threads,
        allow_soft_placement=True)
    self._session = tf.compat.v1.Session(graph=self._graph, config=session_config)
    self._session.run(init)
    # Callables skip Session.run's per-call fetch/feed parsing.
    feeds = list(self._inputs) + tf.nest.flatten(self._state) + [self._counter]
    self._step = self._session.make_callable(
        [action, outputs.policy_params, tf.nest.flatten(new_state)], feed_list=feeds)
    self._assign = self._session.make_callable(assign, feed_list=self._values)
    self._read = self._session.make_callable(read)
    if gradients:
      self._unroll_names = sorted(self._unroll)
      self._gradients = self._session.make_callable(
          [flat_grads, sums],
          feed_list=tf.nest.flatten([self._unroll[n] for n in self._unroll_names]))

  def gradients(self, unroll):
    """(flat gradient of the loss [N] in trainable-variable order, the loss
    statistics [train_step._SUMS]) of one unroll: a dict of numpy columns
    shaped like a queue item ([T+1, E, ...], actions [T, E, ...])."""
    return self._gradients(*tf.nest.flatten([unroll[n] for n in self._unroll_names]))

  def initial_state(self):
    """The core state at an episode start (numpy), () without an LSTM."""
    return self._initial_state

  def step(self, inputs: networks.NetworkInput, core_state, counter: int):
    action, params, state = self._step(*inputs, *tf.nest.flatten(core_state), counter)
    return action, params, tf.nest.pack_sequence_as(self._state, state)

  def set_weights(self, values):
    """Loads a list of arrays, in `variables` order (the learner's order)."""
    values = list(values)
    if len(values) != len(self.variables):
      raise ValueError(f'expected {len(self.variables)} weight arrays, got {len(values)}.')
    for v, x in zip(self.variables, values):
      if tuple(np.shape(x)) != tuple(v.shape):
        raise ValueError(f'weights for {v.name} have shape {np.shape(x)}, expected '
                         f'{tuple(v.shape)}.')
    self._assign(*values)

  def get_weights(self):
    return self._read()

  def close(self):
    self._session.close()
