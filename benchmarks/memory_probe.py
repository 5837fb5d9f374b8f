r"""Per-call memory growth of each part of the training loop, in isolation.

  python benchmarks/memory_probe.py --part=PART [--calls=6000]

Runs one part of an actor's or the learner's per-step work in a loop and
prints resident memory every --calls/6 calls and the growth per call after
the first sixth (warm-up). Used to find what grows in the soak
(benchmarks/soak.py). PART is one of:
  policy  the actor's acting step (graph_policy.GraphPolicy, Pong preset, 16 envs);
  tf_function  the same step as a `tf.function` called with numpy inputs, as
          actors did before: under Python 3.11 TF 2.15 leaks per EagerTensor
          (tensorflow/tensorflow#62551), the reason actors use GraphPolicy;
  env     the 16-env ALE vector env stepped with random actions;
  writer  the actor's Reverb writer pattern (partial steps, T+1-step items),
          with the Reverb server in a child process, as in a real run;
  sample  fetching 678k-float weights from a one-item Reverb table;
  learner the learner's train step (the Atari preset: 8 updates per batch,
          observation normalisation) and weight publication on one fixed
          random batch (no actors).
Besides RSS it prints Python heap blocks per call (sys.getallocatedblocks):
TF 2.15 under Python 3.11 leaks one per EagerTensor created.
"""

import multiprocessing
import sys
import tempfile

import impala_tf  # pylint: disable=g-bad-import-order  (first: oneDNN, see cpu_kernels)
from absl import app
from absl import flags
import numpy as np
import psutil
import reverb
import tensorflow as tf

from impala_tf import actor as actor_lib
from impala_tf import environments
from impala_tf import networks
from impala_tf_configs import atari

import throughput  # pylint: disable=g-bad-import-order  (benchmarks/, next to this file)

_PART = flags.DEFINE_enum(
    'part', 'policy', ['policy', 'tf_function', 'env', 'writer', 'sample', 'learner'], 'Part.')
_CALLS = flags.DEFINE_integer('calls', 6000, 'Calls to make.')

T, E = 20, 16


def _policy(config):
  actor = actor_lib.Actor(config, 'unused:0', task=0)  # connects only in run()
  inputs = throughput.random_inputs(actor.env_spec, E)
  state = actor.policy.initial_state()
  return lambda i: actor.policy.step(inputs, state, i)


def _tf_function(config):
  spec = environments.env_spec(config)
  dist = spec.distribution
  network = networks.make_network(config, spec.observation_shape, dist, spec.channels_first)

  @tf.function
  def step(inputs, counter):
    outputs, _ = network.step(inputs, ())
    seed = tf.stack([tf.constant(0, tf.int64), counter])
    return dist.sample(outputs.policy_params, seed), outputs.policy_params

  inputs = throughput.random_inputs(spec, E)

  def call(i):
    action, params = step(inputs, tf.constant(i, tf.int64))
    action.numpy(), params.numpy()
  return call


def _env(config):
  env = environments.make_env(config, E, seed=0)
  env.reset()
  rng = np.random.default_rng(0)
  return lambda i: env.step(rng.integers(0, 6, E))


def _queue_signature():
  return {'observation': tf.TensorSpec([T + 1, E, 4, 84, 84], tf.uint8),
          'action': tf.TensorSpec([T, E], tf.int32)}


def _serve_queue(conn):
  """The writer part's Reverb server, in its own process."""
  server = reverb.Server([reverb.Table(  # evicting, so inserts never block
      'q', reverb.selectors.Uniform(), reverb.selectors.Fifo(), 2,
      reverb.rate_limiters.MinSize(1), signature=_queue_signature())], port=None)
  conn.send(server.port)
  server.wait()


def _writer(unused_config):
  # The server runs in another process, as the learner's does, so the
  # figure is the actor side's alone.
  context = multiprocessing.get_context('spawn')
  receive, send = context.Pipe()
  server = context.Process(target=_serve_queue, args=(send,), daemon=True)
  server.start()
  writer = reverb.Client(f'127.0.0.1:{receive.recv()}').trajectory_writer(T + 1)
  obs = np.random.default_rng(0).integers(0, 255, (E, 4, 84, 84), dtype=np.uint8)
  writer.append({'observation': obs}, partial_step=True)

  def call(i):  # one actor step; every T steps an item, as the actor does
    writer.append({'action': np.zeros(E, np.int32)})
    writer.append({'observation': obs}, partial_step=True)
    if i % T == 0:
      writer.create_item('q', 1.0, {'observation': writer.history['observation'][-(T + 1):],
                                    'action': writer.history['action'][-(T + 1):-1]})
      writer.flush(block_until_num_items=0)
  call.server = server
  return call


def _sample(unused_config):
  size = 677_953  # the Pong preset's parameter count
  sig = {'version': tf.TensorSpec([], tf.int64), 'weights': [tf.TensorSpec([size], tf.float32)]}
  server = reverb.Server([reverb.Table(
      'weights', reverb.selectors.Uniform(), reverb.selectors.Fifo(), 1,
      reverb.rate_limiters.MinSize(1), signature=sig)], port=None)
  client = reverb.Client(f'127.0.0.1:{server.port}')
  with client.trajectory_writer(1) as w:
    w.append({'version': np.int64(1), 'weights': [np.zeros(size, np.float32)]})
    w.create_item('weights', 1.0, {'version': w.history['version'][-1],
                                   'weights': [w.history['weights'][0][-1]]})

  def call(unused_i):
    next(client.sample('weights', 1, emit_timesteps=False, unpack_as_table_signature=True))
  call.server = server
  return call


def _learner(config):
  learner = throughput.random_batch_learner(config, tempfile.mkdtemp())

  def call(unused_i):
    learner.train_step()
    learner._publisher.publish(learner.step)  # pylint: disable=protected-access
  return call


def main(argv):
  del argv
  config = atari.get_config()
  config.envs_per_actor, config.batch_size = E, 32
  parts = {'policy': _policy, 'tf_function': _tf_function, 'env': _env, 'writer': _writer,
           'sample': _sample, 'learner': _learner}
  call = parts[_PART.value](config)
  proc = psutil.Process()
  every = max(1, _CALLS.value // 6)
  warm = warm_blocks = None
  for i in range(1, _CALLS.value + 1):
    call(i)
    if i % every == 0:
      rss, blocks = proc.memory_info().rss, sys.getallocatedblocks()
      warm, warm_blocks = warm or rss, warm_blocks or blocks
      print(f'{_PART.value}: {i} calls, RSS {rss / 2**20:.1f} MiB', flush=True)
  calls = _CALLS.value - every
  print(f'{_PART.value}: {(rss - warm) / calls:.0f} bytes and '
        f'{(blocks - warm_blocks) / calls:.2f} Python heap blocks per call after the first sixth')


if __name__ == '__main__':
  app.run(main)
