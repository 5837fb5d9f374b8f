r"""Throughput of the Pong set-up, measured side by side in one run.

  python benchmarks/throughput.py [--config=configs/pong.py] [--repeats=3]
      [--seconds=10] [--pipeline_seconds=150]
  python benchmarks/throughput.py --jit_ab   # the train step without and with XLA
  python benchmarks/throughput.py --profile  # where the train step's time goes
      [--profile_by=name]                      # per op rather than per op type
  python benchmarks/throughput.py --kernels_ab  # all of it, oneDNN's kernels off and on

Measures, each as environment frames per second (agent steps × action repeat):
  (a) env:      one actor's vectorised Atari envs stepped with random actions;
  (b) act:      the compiled acting step alone, on one actor's batch;
  (c) train:    the learner's train step alone, on an in-memory batch;
  (d) pipeline: the whole local system (train_local: learner + actors),
                steady-state rate after warm-up.
(a)-(c) are medians over --repeats; (d) is the median of the learner's
progress readings. ideal = 1 / (1/env + 1/act + 1/train): the rate of doing
the three serially on one core with no overhead. The last line is JSON.
"""

import dataclasses
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

import impala_tf  # pylint: disable=g-bad-import-order  (first: oneDNN, see cpu_kernels)
from absl import app
from absl import flags
from ml_collections import config_flags
import numpy as np
import psutil
import tensorflow as tf

from impala_tf import actor as actor_lib
from impala_tf import cpu_kernels
from impala_tf import environments
from impala_tf import learner as learner_lib
from impala_tf import networks
from impala_tf import trajectories
import run_processes  # benchmarks/run_processes.py, beside this script

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_CONFIG = config_flags.DEFINE_config_file(
    'config', os.path.join(_REPO, 'configs', 'pong.py'), 'Preset to measure.')
_REPEATS = flags.DEFINE_integer('repeats', 3, 'Repeats of each component measurement.')
_SECONDS = flags.DEFINE_float('seconds', 10.0, 'Seconds per component measurement.')
_PIPELINE_SECONDS = flags.DEFINE_integer('pipeline_seconds', 150, 'Seconds of the full run.')
_JIT_AB = flags.DEFINE_bool('jit_ab', False, 'Instead: the train step alone with jit_compile '
                            'off and on, interleaved; medians and their ratio.')
_PROFILE = flags.DEFINE_bool('profile', False, 'Instead: trace --profile_steps train steps '
                             'with the TensorFlow profiler; print each op type\'s time.')
_PROFILE_STEPS = flags.DEFINE_integer('profile_steps', 20, 'Train steps traced by --profile.')
_PROFILE_BY = flags.DEFINE_enum('profile_by', 'type', ['type', 'name'],
                                '--profile sums time per op type, or per op (its graph name).')
_KERNELS_AB = flags.DEFINE_bool('kernels_ab', False, 'Instead: this benchmark in child '
                                'processes with TF_ENABLE_ONEDNN_OPTS=0 and =1, alternating '
                                '--ab_rounds times; medians and their ratios.')
_AB_ROUNDS = flags.DEFINE_integer('ab_rounds', 1, 'Rounds of --kernels_ab.')
_WARMUP_SECONDS = 40  # learner start-up, tracing and queue filling


def _timed(fn, seconds):
  """(calls of `fn` per second, cores this process used meanwhile)."""
  fn()  # warm-up (tracing)
  count, start, cpu_start = 0, time.perf_counter(), time.process_time()
  while time.perf_counter() - start < seconds:
    fn()
    count += 1
  wall = time.perf_counter() - start
  return count / wall, (time.process_time() - cpu_start) / wall


def measure_env(config, seconds):
  env = environments.make_env(config, config.envs_per_actor, seed=0)
  env.reset()
  n = env.spec.action_space.n
  rng = np.random.default_rng(0)
  calls, cores = _timed(lambda: env.step(rng.integers(0, n, config.envs_per_actor)), seconds)
  env.close()
  return calls * config.envs_per_actor * config.action_repeat, cores


def random_inputs(env_spec, num_envs):
  """One acting step's inputs for an Atari actor: random frames, mid-episode."""
  rng = np.random.default_rng(0)
  return networks.NetworkInput(
      observation=rng.integers(0, 255, (num_envs, *env_spec.observation_shape),
                               dtype=np.uint8),
      first=np.zeros(num_envs, bool), prev_action=np.zeros(num_envs, np.int32),
      prev_reward=np.zeros(num_envs, np.float32))


def measure_act(config, seconds):
  """The actor's own acting step, on random frames (no env, no Reverb)."""
  actor = actor_lib.Actor(config, 'unused:0', task=0)  # connects only in run()
  e = config.envs_per_actor
  inputs = random_inputs(actor.env_spec, e)
  state = actor.policy.initial_state()
  counter = [0]

  def step():
    counter[0] += 1
    actor.policy.step(inputs, state, counter[0])

  try:
    calls, cores = _timed(step, seconds)
    return calls * e * config.action_repeat, cores
  finally:
    actor.close()


def random_batch(config):
  """A time-major batch of random data with the queue's signature."""
  spec = environments.env_spec(config)
  dist = spec.distribution
  signature = trajectories.item_signature(
      trajectories.step_spec(spec, dist, config.envs_per_actor,
                             config.lstm_units if config.use_lstm else 0),
      config.unroll_length)
  rng = np.random.default_rng(0)

  def sample(s):
    shape = (config.items_per_batch, *s.shape)
    if s.dtype == tf.uint8:
      return rng.integers(0, 255, shape, dtype=np.uint8)
    if s.dtype == tf.bool:
      return rng.uniform(size=shape) < 0.01
    if s.dtype.is_integer:
      return np.zeros(shape, s.dtype.as_numpy_dtype)
    return rng.normal(size=shape).astype(s.dtype.as_numpy_dtype)

  return trajectories.to_time_major(tf.nest.map_structure(sample, signature))


def random_batch_learner(config, logdir):
  """A learner whose every step trains on the same in-memory `random_batch`."""
  batch = random_batch(config)
  return learner_lib.Learner(
      config, logdir, dataset_fn=lambda _: tf.data.Dataset.from_tensors(batch).repeat())


def measure_train(config, seconds):
  with tempfile.TemporaryDirectory() as logdir:
    learner = random_batch_learner(config, logdir)
    try:
      calls, cores = _timed(learner.train_step, seconds)
      return calls * config.frames_per_learner_step, cores
    finally:
      learner.close()


def measure_pipeline(seconds):
  """The whole local run's steady frames/s (median of the learner's readings
  after the warm-up), actor 0's time shares, and the CPU microseconds each
  process (and the learner's thread kinds) spent per frame over the same
  window."""
  argv = sys.argv[1:]
  config_args = [a for a in argv if a.startswith('--config')]
  if not any(a.startswith('--config=') for a in config_args):
    config_args.insert(0, f'--config={os.path.join(_REPO, "configs", "pong.py")}')
  with tempfile.TemporaryDirectory() as logdir:
    proc = subprocess.Popen(
        [sys.executable, os.path.join(_REPO, 'binaries', 'train_local.py'), *config_args,
         f'--logdir={logdir}', '--config.log_every_seconds=5'],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL='3'))
    root = psutil.Process(proc.pid)
    readings, start, first, last = [], time.time(), None, None
    for line in proc.stdout:
      match = re.match(r'frames ([\d,]+) \(([\d,]+)/s\)', line)
      if match and time.time() - start > _WARMUP_SECONDS:
        frames = int(match.group(1).replace(',', ''))
        cpu = (frames, *run_processes.cpu_seconds(root))
        if first is None:
          first = cpu
        else:
          readings.append(float(match.group(2).replace(',', '')))
          last = cpu
      if time.time() - start > seconds:
        proc.send_signal(2)
        break
    proc.communicate(timeout=120)
    with open(os.path.join(logdir, 'logs', 'actor_0.log')) as f:
      actor_lines = [l for l in f if 'time:' in l]
  if last is None:
    raise RuntimeError(f'no frames/s reading after the {_WARMUP_SECONDS} s warm-up in '
                       f'{seconds} s: raise --pipeline_seconds.')
  frames = last[0] - first[0]
  cpu = {'process': run_processes.per_frame_microseconds(first[1], last[1], frames),
         'learner_threads': run_processes.per_frame_microseconds(first[2], last[2], frames)}
  return (statistics.median(readings),
          actor_lines[-1].split('time:')[-1].strip() if actor_lines else 'n/a', cpu)


def compare_jit(config):
  """The train step alone without and with XLA, interleaved repeats."""
  runs = {False: [], True: []}
  for _ in range(_REPEATS.value):
    for jit in (False, True):
      runs[jit].append(measure_train(dataclasses.replace(config, jit_compile=jit),
                                     _SECONDS.value)[0])
      print(f'train, jit_compile={jit}: {runs[jit][-1]:,.0f} frames/s', flush=True)
  plain, compiled = (statistics.median(runs[k]) for k in (False, True))
  print(f'train step: {plain:,.0f} frames/s without XLA, {compiled:,.0f} with '
        f'({compiled / plain:.2f}x)')
  print(json.dumps({'train_step_frames_per_second': round(plain, 1),
                    'train_step_xla_frames_per_second': round(compiled, 1),
                    'xla_speedup': round(compiled / plain, 3),
                    'runs': {str(k): [round(r) for r in v] for k, v in runs.items()}}))


def profile_train(config, steps, by='type'):
  """Op types' (`by='type'`) or ops' (`by='name'`) time in `steps` train
  steps (the TensorFlow profiler's trace of the host's compute threads,
  summed over threads, so shares can exceed the wall time's)."""
  from tensorflow.tsl.profiler.protobuf import xplane_pb2  # pylint: disable=g-import-not-at-top
  with tempfile.TemporaryDirectory() as logdir, tempfile.TemporaryDirectory() as trace_dir:
    learner = random_batch_learner(config, logdir)
    try:
      for _ in range(3):
        learner.train_step()
      start = time.perf_counter()
      tf.profiler.experimental.start(trace_dir)
      for _ in range(steps):
        learner.train_step()
      tf.profiler.experimental.stop()
      wall = (time.perf_counter() - start) / steps
    finally:
      learner.close()
    [path] = [os.path.join(d, f) for d, _, files in os.walk(trace_dir) for f in files
              if f.endswith('.xplane.pb')]
    space = xplane_pb2.XSpace()
    with open(path, 'rb') as f:
      space.ParseFromString(f.read())
  ops = {}
  for plane in space.planes:
    for line in plane.lines:
      if not line.name.startswith('tf_Compute'):
        continue
      for event in line.events:
        # 'op name:op type' for TensorFlow ops
        op_name, _, name = plane.event_metadata[event.metadata_id].name.rpartition(':')
        if by == 'name' and op_name and not op_name.endswith(':'):  # not 'Executor::Process'
          name = op_name.replace('while/body/_1/', '').replace('while/', '')
        ops[name] = ops.get(name, 0.0) + event.duration_ps * 1e-9 / steps  # ms per step
  # 'Process' spans a thread's whole stint; ParallelFor and Start are Eigen's
  # work inside the ops.
  busy = ops.pop('Process', 0.0)
  for name in ('ParallelFor', 'Start'):
    ops.pop(name, None)
  top = sorted(ops.items(), key=lambda kv: -kv[1])[:12]
  print(f'train step: {wall * 1e3:.0f} ms wall, {busy:.0f} ms on compute threads '
        f'({config.frames_per_learner_step / wall:,.0f} frames/s)')
  width = max(len(name) for name, _ in top)
  for name, ms in top:
    print(f'  {name:{width}s} {ms:8.1f} ms/step  {100 * ms / busy:5.1f}%')
  print(json.dumps({'onednn': cpu_kernels.onednn_enabled(), 'step_ms': round(wall * 1e3, 1),
                    'compute_thread_ms': round(busy, 1),
                    'ops_ms_per_step': {k: round(v, 1) for k, v in top}}))


def compare_kernels(rounds):
  """This benchmark (without --kernels_ab) in child processes, oneDNN's
  kernels off then on, `rounds` times: TensorFlow reads the choice when it
  loads, so each setting needs its own process."""
  argv = [a for a in sys.argv[1:] if not a.startswith(('--kernels_ab', '--ab_rounds'))]
  runs = {'0': [], '1': []}
  for _ in range(rounds):
    for value in runs:
      result = subprocess.run(
          [sys.executable, os.path.abspath(__file__), *argv], capture_output=True, text=True,
          env=dict(os.environ, TF_ENABLE_ONEDNN_OPTS=value, TF_CPP_MIN_LOG_LEVEL='3'))
      lines = [l for l in result.stdout.splitlines() if l.startswith('{')]
      if result.returncode or not lines:
        raise RuntimeError(f'TF_ENABLE_ONEDNN_OPTS={value}: {result.stderr[-2000:]}')
      runs[value].append(json.loads(lines[-1]))
      print(f'TF_ENABLE_ONEDNN_OPTS={value}: {lines[-1]}', flush=True)
  keys = [k for k, v in runs['0'][0].items()
          if isinstance(v, (int, float)) and not isinstance(v, bool)]
  medians = {value: {k: statistics.median(r[k] for r in rs) for k in keys}
             for value, rs in runs.items()}
  for k in keys:
    print(f'{k:36s} off {medians["0"][k]:10,.3f}  on {medians["1"][k]:10,.3f}  '
          f'({medians["1"][k] / medians["0"][k]:.2f}x)')
  print(json.dumps({'onednn_off': medians['0'], 'onednn_on': medians['1'],
                    'ratio_on_to_off': {k: round(medians['1'][k] / medians['0'][k], 3)
                                        for k in keys}}))


def main(argv):
  del argv
  config = _CONFIG.value.validate()
  if _KERNELS_AB.value:
    compare_kernels(_AB_ROUNDS.value)
    return
  print(cpu_kernels.status(), flush=True)
  if _JIT_AB.value:
    compare_jit(config)
    return
  if _PROFILE.value:
    profile_train(config, _PROFILE_STEPS.value, _PROFILE_BY.value)
    return
  results = {}
  cores = {}
  for name, fn in (('env', measure_env), ('act', measure_act), ('train', measure_train)):
    runs, used = zip(*[fn(config, _SECONDS.value) for _ in range(_REPEATS.value)])
    results[name], cores[name] = statistics.median(runs), statistics.median(used)
    print(f'{name:6s} {results[name]:10,.0f} frames/s on {cores[name]:.2f} cores  (runs: '
          + ', '.join(f'{r:,.0f}' for r in runs) + ')', flush=True)
  ideal = 1.0 / sum(1.0 / results[k] for k in ('env', 'act', 'train'))
  pipeline, actor_time, cpu = measure_pipeline(_PIPELINE_SECONDS.value)
  print(f'ideal  {ideal:10,.0f} frames/s')
  print(f'whole  {pipeline:10,.0f} frames/s  ({100 * pipeline / ideal:.0f}% of ideal, '
        f'{100 * pipeline / results["env"]:.0f}% of env-only)')
  print(f'actor 0 time shares in the pipeline: {actor_time}')
  # What each part costs alone, as CPU per frame: its frames/s and the
  # cores its process used meanwhile (the acting and train steps use more
  # than one thread).
  alone = {k: 1e6 * cores[k] / results[k] for k in results}
  print('CPU microseconds per frame in the pipeline (each part alone: '
        + ', '.join(f'{k} {v:.0f}' for k, v in alone.items()) + '):')
  for group in ('process', 'learner_threads'):
    total = sum(cpu[group].values())
    print(f'  {group:16s} total {total:5.0f}: ' + ', '.join(
        f'{k} {v:.0f}' for k, v in sorted(cpu[group].items(), key=lambda kv: -kv[1])))
  print(json.dumps({
      'onednn': cpu_kernels.onednn_enabled(),
      'train_frames_per_second': round(pipeline, 1),
      'env_only_frames_per_second': round(results['env'], 1),
      'act_only_frames_per_second': round(results['act'], 1),
      'train_step_only_frames_per_second': round(results['train'], 1),
      'ideal_frames_per_second': round(ideal, 1),
      'fraction_of_ideal': round(pipeline / ideal, 3),
      'fraction_of_env_only': round(pipeline / results['env'], 3),
      'actor_time_shares': actor_time,
      'cores_alone': {k: round(v, 2) for k, v in cores.items()},
      'cpu_microseconds_per_frame_alone': {k: round(v, 1) for k, v in alone.items()},
      'cpu_microseconds_per_frame': {g: {k: round(v, 1) for k, v in d.items()}
                                     for g, d in cpu.items()},
  }))


if __name__ == '__main__':
  app.run(main)
