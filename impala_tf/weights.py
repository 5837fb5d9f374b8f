"""Publishing the learner's weights to actors through a Reverb table.

The 'weights' table holds one item, the newest weights with the learner step
that produced them (its version): a new publication evicts the old one
(max_size 1, FIFO remover), actors sample it as often as they like (uniform
sampler, unlimited samples), and a sample blocks until the first publication.
This plays the part of tf-agents' ReverbVariableContainer, with a version
number so actors can skip unchanged weights and measure policy lag.

A second one-item table, 'weights_version', holds the version alone (an
item of the same writer step, so it costs no extra data) and whether the
learner has finished the run: an actor asks it before every unroll, fetches
the weights (megabytes) only when the version changed, and stops when the
run is over.

Every publication also carries the learner step it was made at. They are
the same number unless the publisher holds the weights back by a fixed
`lag` (controlled policy lag, for the paper's comparisons): at step s it
then publishes the weights of step s − lag, kept by step. A second
publication at the same step (a PBT copy) replaces that step's weights
rather than counting as a step; after a restart, until `lag` steps have
passed, it publishes the oldest weights it holds, labelled with their own
step, so the lag reported is the lag that acted.
"""

import collections

import numpy as np
import reverb
import tensorflow as tf

WEIGHTS_TABLE = 'weights'
VERSION_TABLE = 'weights_version'


def weights_signature(variables):
  return {
      'version': tf.TensorSpec([], tf.int64),
      'step': tf.TensorSpec([], tf.int64),
      'weights': [tf.TensorSpec(v.shape, v.dtype) for v in variables],
  }


def _latest_only_table(name, signature) -> reverb.Table:
  return reverb.Table(
      name=name,
      sampler=reverb.selectors.Uniform(),
      remover=reverb.selectors.Fifo(),
      max_size=1,
      rate_limiter=reverb.rate_limiters.MinSize(1),
      signature=signature)


def weights_tables(variables):
  """The learner's two tables: the weights with their version, and the
  version alone."""
  return [_latest_only_table(WEIGHTS_TABLE, weights_signature(variables)),
          _latest_only_table(VERSION_TABLE, {'version': tf.TensorSpec([], tf.int64),
                                             'step': tf.TensorSpec([], tf.int64),
                                             'finished': tf.TensorSpec([], tf.bool)})]


class WeightPublisher:
  """Learner side: writes the current variable values with their version."""

  def __init__(self, client: reverb.Client, variables, lag: int = 0):
    """`lag` > 0: publish, at learner step s, the weights of step s − lag
    (those of the oldest step held until s ≥ lag)."""
    variables = list(variables)
    self._lag = lag
    self._held = collections.OrderedDict()   # step -> flat weights, oldest first
    self._shapes = [tuple(v.shape) for v in variables]
    self._split_at = np.cumsum([int(np.prod(s)) for s in self._shapes])[:-1]
    if len({v.dtype for v in variables}) != 1:
      raise ValueError('WeightPublisher needs variables of one dtype, got '
                       f'{sorted({v.dtype.name for v in variables})}.')
    # One tensor per publication, split into views in numpy: reading each
    # variable would create an EagerTensor apiece (they leak, see learner).
    self._read = tf.function(lambda: tf.concat([tf.reshape(v, [-1]) for v in variables], 0))
    self._writer = client.trajectory_writer(num_keep_alive_refs=1)

  def read(self):
    """The current weights, as numpy arrays in variable order."""
    flat = self._read().numpy()
    return [x.reshape(s) for x, s in zip(np.split(flat, self._split_at), self._shapes)]

  def publish(self, step: int, finished: bool = False):
    """Publishes the weights of learner step `step` (or, with a lag, of the
    step `lag` before it) together with `step`; `finished`: the run is over
    (actors stop)."""
    self._held[step] = self._read().numpy()   # the same step again: replaced
    self._held.move_to_end(step)
    # The newest weights at least `lag` steps old, else the oldest held;
    # nothing older than that is needed again.
    old_enough = [s for s in self._held if s <= step - self._lag]
    version = old_enough[-1] if old_enough else next(iter(self._held))
    for s in [s for s in self._held if s < version]:
      del self._held[s]
    flat = self._held[version]
    values = [x.reshape(s) for x, s in zip(np.split(flat, self._split_at), self._shapes)]
    self._writer.append({'version': np.int64(version), 'step': np.int64(step),
                         'finished': np.bool_(finished), 'weights': values})
    history = self._writer.history
    self._writer.create_item(
        WEIGHTS_TABLE, priority=1.0,
        trajectory={
            'version': history['version'][-1],
            'step': history['step'][-1],
            'weights': [col[-1] for col in history['weights']],
        })
    # After the weights: an actor that sees this version finds its weights.
    self._writer.create_item(VERSION_TABLE, priority=1.0,
                             trajectory={'version': history['version'][-1],
                                         'step': history['step'][-1],
                                         'finished': history['finished'][-1]})
    # Wait until the server has it: a synchronous actor is waiting for it.
    self._writer.flush()

  def close(self):
    self._writer.close()


class WeightSubscriber:
  """Actor side: hands the newest published weights to `load`.

  `load` takes the list of arrays in the publisher's variable order (the
  actor passes `GraphPolicy.set_weights`).
  """

  def __init__(self, client: reverb.Client, load):
    self._client = client
    self._load = load
    self.version = -1
    self.step = -1      # the learner step of the newest publication seen
    self.finished = False   # the learner has finished the run

  def _sample(self, table):
    return next(self._client.sample(table, num_samples=1, emit_timesteps=False,
                                    unpack_as_table_signature=True)).data

  def fetch(self) -> int:
    """Blocks until weights are published; returns their version.

    Asks the version table first; the weights are fetched and loaded only
    when the version changed.
    """
    newest = self._sample(VERSION_TABLE)
    self.step = int(newest['step'])
    self.finished = bool(newest['finished'])
    if int(newest['version']) != self.version:
      data = self._sample(WEIGHTS_TABLE)
      self._load(data['weights'])
      self.version = int(data['version'])
      self.step = max(self.step, int(data['step']))
    return self.version
