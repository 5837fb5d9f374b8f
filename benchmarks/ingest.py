r"""How many actors one learner can feed: Reverb's ingest, the learner's, an actor's.

  python benchmarks/ingest.py [--config=configs/pong.py] [--writers=1,2,4]
      [--seconds=30] [--repeats=2]

Three measurements, all as environment frames per second (an unroll of
`envs_per_actor` × `unroll_length` agent steps × `action_repeat`), taken side
by side in one run and repeated (medians reported):

  reverb:  W writer processes insert pre-recorded unrolls (random data of the
           preset's item signature, written step by step with a trajectory
           writer exactly as an actor writes) into a Reverb server that never
           blocks them (no learner: a FIFO table that evicts);
  learner: the same W writers feed a real learner process (the preset's queue
           and compiled step); the learner's consumed frames/s;
  actor:   one real actor process, pinned to one core (`taskset`), writing into
           the non-blocking server: one actor's frames/s per core.

The planning figure: actor cores one learner absorbs = learner / actor. A
learner on a GPU or TPU consumes frames_per_learner_step / its step time; the
actors it needs are that over the actor's frames/s per core, as long as it
stays under Reverb's ingest ceiling. The last line is JSON.
"""

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from absl import app
from absl import flags
from ml_collections import config_flags
import numpy as np

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_CONFIG = config_flags.DEFINE_config_file(
    'config', os.path.join(_REPO, 'configs', 'pong.py'), 'Preset to measure.')
_WRITERS = flags.DEFINE_list('writers', ['1', '2', '4'], 'Writer process counts.')
_SECONDS = flags.DEFINE_float('seconds', 30.0, 'Seconds per measurement.')
_REPEATS = flags.DEFINE_integer('repeats', 2, 'Repeats of the whole set.')
_LEARNER_WARMUP = flags.DEFINE_float('learner_warmup_seconds', 60.0,
                                     'Learner start-up and tracing, not measured.')
# Writer-process mode (started by this script).
_WRITE_TO = flags.DEFINE_string('write_to', None, 'Internal: be a writer to HOST:PORT.')
_TASK = flags.DEFINE_integer('task', 0, 'Internal: the writer\'s seed.')

_ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='3')
_SINK_CAPACITY = 64


def _signature(config):
  from impala_tf import environments  # pylint: disable=g-import-not-at-top
  from impala_tf import trajectories  # pylint: disable=g-import-not-at-top
  spec = environments.env_spec(config)
  return spec, trajectories.step_spec(spec, spec.distribution, config.envs_per_actor,
                                      config.lstm_units if config.use_lstm else 0)


def _write_forever(config, address, seed):
  """A writer process: pre-recorded steps, appended and itemised like an actor."""
  import reverb  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from impala_tf import trajectories  # pylint: disable=g-import-not-at-top
  from impala_tf.trajectory_queue import TRAJECTORY_TABLE  # pylint: disable=g-import-not-at-top
  _, step_specs = _signature(config)
  rng = np.random.default_rng(seed)

  def sample(s):
    if s.dtype == tf.uint8:
      return rng.integers(0, 256, s.shape, dtype=np.uint8)
    if s.dtype == tf.bool:
      return np.zeros(s.shape, bool)
    return rng.integers(0, 2, s.shape).astype(s.dtype.as_numpy_dtype)

  steps = [tf.nest.map_structure(sample, step_specs) for _ in range(8)]
  t_len = config.unroll_length
  client = reverb.Client(address)
  with client.trajectory_writer(num_keep_alive_refs=t_len + 1) as writer:
    writer.append(steps[0])
    i = 1
    while True:
      for _ in range(t_len):
        writer.append(steps[i % len(steps)])
        i += 1
      writer.create_item(TRAJECTORY_TABLE, priority=1.0,
                         trajectory=trajectories.item_columns(writer.history, t_len))
      writer.flush(block_until_num_items=4)


class _Sink:
  """A Reverb server that takes whatever is written, with the learner's
  weights and run config published, so a real actor can write to it."""

  def __init__(self, config):
    import reverb  # pylint: disable=g-import-not-at-top
    from impala_tf import networks  # pylint: disable=g-import-not-at-top
    from impala_tf import run_config  # pylint: disable=g-import-not-at-top
    from impala_tf import trajectories  # pylint: disable=g-import-not-at-top
    from impala_tf import weights as weights_lib  # pylint: disable=g-import-not-at-top
    from impala_tf.trajectory_queue import TRAJECTORY_TABLE  # pylint: disable=g-import-not-at-top
    spec, step_specs = _signature(config)
    network = networks.make_network(config, spec.observation_shape, spec.distribution,
                                    spec.channels_first)
    table = reverb.Table(
        name=TRAJECTORY_TABLE, sampler=reverb.selectors.Fifo(),
        remover=reverb.selectors.Fifo(), max_size=_SINK_CAPACITY,
        rate_limiter=reverb.rate_limiters.MinSize(1),
        signature=trajectories.item_signature(step_specs, config.unroll_length))
    self.server = reverb.Server(
        [table] + weights_lib.weights_tables(network.variables) + [run_config.table()])
    self.address = f'127.0.0.1:{self.server.port}'
    self._client = reverb.Client(self.address)
    run_config.publish(self._client, config)
    weights_lib.WeightPublisher(self._client, network.variables).publish(0)
    self._table = TRAJECTORY_TABLE

  def inserted(self) -> int:
    info = self._client.server_info()[self._table]
    return info.rate_limiter_info.insert_stats.completed


def _start(argv, log):
  return subprocess.Popen(argv, env=_ENV, stdout=log, stderr=subprocess.STDOUT)


def _writers(config_path, address, count, log):
  return [_start([sys.executable, os.path.abspath(__file__), f'--config={config_path}',
                  f'--write_to={address}', f'--task={i}'], log) for i in range(count)]


def _stop(procs):
  for p in procs:
    p.kill()
  for p in procs:
    p.wait()


def _rate(read, seconds, warmup=10.0):
  """Units per second of a monotone counter over `seconds`, after `warmup`."""
  time.sleep(warmup)
  start_value, start = read(), time.time()
  time.sleep(seconds)
  return (read() - start_value) / (time.time() - start)


def _measure_reverb(sink, config_path, count, seconds, log):
  procs = _writers(config_path, sink.address, count, log)
  try:
    return _rate(sink.inserted, seconds, warmup=15.0)
  finally:
    _stop(procs)


def _measure_actor(sink, config_path, seconds, log):
  cmd = [sys.executable, os.path.join(_REPO, 'binaries', 'actor.py'),
         f'--config={config_path}', f'--learner_address={sink.address}', '--task=0']
  if shutil.which('taskset'):
    cmd = ['taskset', '-c', '0'] + cmd
  procs = [_start(cmd, log)]
  try:
    return _rate(sink.inserted, seconds, warmup=25.0)
  finally:
    _stop(procs)


def _status_frames(path):
  try:
    with open(path) as f:
      return json.load(f)['env_frames']
  except (OSError, ValueError, KeyError):
    return 0


def main(argv):
  del argv
  from impala_tf import config as config_lib  # pylint: disable=g-import-not-at-top
  config = _CONFIG.value.validate()
  if _WRITE_TO.value:
    _write_forever(config, _WRITE_TO.value, _TASK.value)
    return
  import portpicker  # pylint: disable=g-import-not-at-top
  frames_per_item = config.envs_per_actor * config.unroll_length * config.action_repeat
  counts = [int(w) for w in _WRITERS.value]
  seconds = _SECONDS.value
  results = {'reverb': {c: [] for c in counts}, 'learner': {c: [] for c in counts},
             'actor': []}
  with tempfile.TemporaryDirectory() as tmp:
    config_path = os.path.join(tmp, 'config.py')
    # Learner logs every 2 s so its frame counter can be read often.
    config = config_lib.ImpalaConfig(**{**vars(config), 'log_every_seconds': 2.0,
                                        'total_environment_frames': 10**12})
    config_lib.write_config_file(config, config_path)
    log = open(os.path.join(tmp, 'processes.log'), 'ab')
    sink = _Sink(config)
    for repeat in range(_REPEATS.value):
      for count in counts:
        fps = _measure_reverb(sink, config_path, count, seconds, log) * frames_per_item
        results['reverb'][count].append(fps)
        print(f'repeat {repeat}: reverb alone, {count} writers: {fps:,.0f} frames/s', flush=True)
      fps = _measure_actor(sink, config_path, seconds, log) * frames_per_item
      results['actor'].append(fps)
      print(f'repeat {repeat}: one actor on one core: {fps:,.0f} frames/s', flush=True)
      port = portpicker.pick_unused_port()
      logdir = os.path.join(tmp, f'learner_{repeat}')
      learner = _start([sys.executable, os.path.join(_REPO, 'binaries', 'learner.py'),
                        f'--config={config_path}', f'--logdir={logdir}', f'--port={port}'], log)
      try:
        status = os.path.join(logdir, 'status.json')
        for count in counts:
          procs = _writers(config_path, f'127.0.0.1:{port}', count, log)
          try:
            fps = _rate(lambda: _status_frames(status), seconds,
                        warmup=_LEARNER_WARMUP.value if count == counts[0] else 10.0)
          finally:
            _stop(procs)
          results['learner'][count].append(fps)
          print(f'repeat {repeat}: learner fed by {count} writers: {fps:,.0f} frames/s',
                flush=True)
      finally:
        _stop([learner])
    log.close()

  median = statistics.median
  reverb = {c: median(v) for c, v in results['reverb'].items()}
  learner = {c: median(v) for c, v in results['learner'].items()}
  actor = median(results['actor'])
  ceiling = max(learner.values())
  summary = {
      'env_id': config.env_id,
      'torso': config.torso,
      'envs_per_actor': config.envs_per_actor,
      'frames_per_item': frames_per_item,
      'reverb_frames_per_second': {str(c): round(v) for c, v in reverb.items()},
      'learner_frames_per_second': {str(c): round(v) for c, v in learner.items()},
      'actor_frames_per_second_per_core': round(actor),
      'actor_cores_per_learner': round(ceiling / actor, 2),
      'actor_cores_reverb_absorbs': round(max(reverb.values()) / actor, 1),
      'frames_per_learner_step': config.frames_per_learner_step,
      'repeats': _REPEATS.value,
      'seconds': seconds,
  }
  print(f'Reverb alone accepts {max(reverb.values()):,.0f} frames/s; the learner consumes '
        f'{ceiling:,.0f}; one actor makes {actor:,.0f} per core: one learner absorbs '
        f'{ceiling / actor:.1f} actor cores (Reverb alone {max(reverb.values()) / actor:.0f}).')
  print(json.dumps(summary))


if __name__ == '__main__':
  app.run(main)
