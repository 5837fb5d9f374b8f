"""Local launcher: one learner and N actor processes on this machine.

The launcher writes the resolved config to `<logdir>/config.py`, starts the
learner and the actors as child processes (their logs go to
`<logdir>/logs/`), prints a progress line from the learner's status file at
a steady interval, and ends with one JSON line. A dead actor is reported and
restarted; a dead learner ends the run with its exit status. Ctrl-C or
SIGTERM stops the learner gracefully (it writes a checkpoint) and the actors.
"""

import ctypes
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time

import portpicker

from impala_tf import config as config_lib
from impala_tf.agents import registry
from impala_tf.choices import STATUS_FILE

# Restarts of one actor slot before the launcher gives up on the run.
MAX_ACTOR_RESTARTS = 5


def _tail(path, lines=20):
  try:
    with open(path, errors='replace') as f:
      return ''.join(f.readlines()[-lines:])
  except OSError:
    return ''


# Resolved here, not in the forked child: loading a library after fork in a
# multi-threaded process can deadlock on the loader's lock.
_LIBC = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1


def _die_with_parent():
  """Runs in each child before exec: the kernel sends it SIGKILL when the
  launcher dies, however it dies, so no learner or actor is orphaned."""
  _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _finite_or_none(value):
  """JSON has no NaN: a mean over no episodes is reported as null."""
  if value is None or (isinstance(value, float) and not math.isfinite(value)):
    return None
  return value


class LocalLauncher:
  """Runs learner + actors locally; `run()` returns the final result dict."""

  def __init__(self, config, logdir, learner_cmd, actor_cmd, port=0, print_fn=print,
               extra_env=None, learner_args=()):
    """
    Args:
      config: the ImpalaConfig of the run.
      logdir: run directory (checkpoints, summaries, status, logs).
      learner_cmd, actor_cmd: argv prefixes that start the learner and actor
        binaries; the launcher appends --config, --logdir/--port, --task...
      port: the learner's Reverb port (0: pick a free one).
      print_fn: where progress lines go.
      extra_env: environment variables for the children.
      learner_args: further flags for the learner (e.g. --pbt_dir).
    """
    self._config = config.validate()
    if config.num_actors < config.num_tasks:
      raise config_lib.ConfigError(
          f'num_actors ({config.num_actors}) must be at least the number of tasks '
          f'({config.num_tasks}): the launcher gives actor i task i % {config.num_tasks}, so '
          'every task needs an actor.')
    self._logdir = os.path.abspath(logdir)
    self._learner_cmd = list(learner_cmd)
    self._learner_args = list(learner_args)
    self._actor_cmd = list(actor_cmd)
    self._port = port or portpicker.pick_unused_port()
    self._print = print_fn
    self._env = dict(os.environ, **(extra_env or {}))
    self._stop_signal = None
    self._actors = {}
    self._restarts = {}

  def _spawn(self, argv, log_name):
    log_path = os.path.join(self._logdir, 'logs', log_name)
    log = open(log_path, 'ab')
    # A new session: Ctrl-C in the terminal reaches only the launcher, which
    # then stops the children in order.
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=self._env,
                            start_new_session=True, preexec_fn=_die_with_parent)
    proc.log_path = log_path
    log.close()
    return proc

  def _start_actor(self, task):
    config_path = os.path.join(self._logdir, 'config.py')
    self._actors[task] = self._spawn(
        self._actor_cmd + [f'--config={config_path}',
                           f'--learner_address=localhost:{self._port}', f'--task={task}'],
        f'actor_{task}.log')

  def _on_signal(self, signum, unused_frame):
    self._stop_signal = signum

  def run(self):
    os.makedirs(os.path.join(self._logdir, 'logs'), exist_ok=True)
    config_path = os.path.join(self._logdir, 'config.py')
    config_lib.write_config_file(self._config, config_path)
    status_path = os.path.join(self._logdir, STATUS_FILE)
    if os.path.exists(status_path):
      os.remove(status_path)  # a stale file from a previous run would mislead
    previous = {sig: signal.signal(sig, self._on_signal)
                for sig in (signal.SIGINT, signal.SIGTERM)}
    start = time.time()
    learner = self._spawn(self._learner_cmd + [f'--config={config_path}',
                                               f'--logdir={self._logdir}',
                                               f'--port={self._port}'] + self._learner_args,
                          'learner.log')
    self._print(f'launcher: learner on port {self._port} (pid {learner.pid}), '
                f'{self._config.num_actors} actors; logs in {self._logdir}/logs')
    # An agent without actor processes steps its environments in the learner.
    if registry.info(self._config.architecture).runs_actors:
      for task in range(self._config.num_actors):
        self._start_actor(task)
    outcome, failure = 'completed', None
    try:
      next_log = start + self._config.log_every_seconds
      while True:
        code = learner.poll()
        if code is not None:
          if code != 0:
            outcome = 'failed'
            failure = (f'learner exited with status {code}; last lines of '
                       f'{learner.log_path}:\n{_tail(learner.log_path)}')
          elif self._stop_signal is not None:
            outcome = 'interrupted'
          break
        if self._stop_signal is not None:
          self._print('launcher: stopping (signal received); the learner is writing a '
                      'checkpoint.')
          learner.send_signal(signal.SIGTERM)
          self._stop_actors()
          try:
            learner.wait(timeout=120)
          except subprocess.TimeoutExpired:
            learner.kill()
          continue
        failure = self._check_actors()
        if failure:
          outcome = 'failed'
          learner.send_signal(signal.SIGTERM)
          learner.wait(timeout=120)
          break
        if time.time() >= next_log:
          self._print_progress(status_path)
          next_log += self._config.log_every_seconds
        time.sleep(0.2)
    finally:
      self._stop_actors()
      if learner.poll() is None:
        learner.kill()
      for sig, handler in previous.items():
        signal.signal(sig, handler)
    if failure:
      self._print(f'launcher: {failure}')
    status = self._read_status(status_path) or {}
    wall = time.time() - start
    result = {
        'outcome': outcome,
        'env_frames': status.get('env_frames', 0),
        'wall_seconds': round(wall, 2),
        'frames_per_second': round(status.get('frames_this_run', 0) / wall, 1),
        'episode_return_mean': _finite_or_none(status.get('episode_return_mean')),
        'episode_return_mean_per_task': {
            name: _finite_or_none(value)
            for name, value in (status.get('episode_return_mean_per_task') or {}).items()},
        'episodes': status.get('episodes', 0),
        'learner_steps': status.get('learner_steps', 0),
        'logdir': self._logdir,
    }
    if status.get('human_normalized'):
      result['human_normalized'] = status['human_normalized']
    self._print(json.dumps(result))
    return result

  def _check_actors(self):
    for task, proc in list(self._actors.items()):
      code = proc.poll()
      if code is None:
        continue
      if code == 0:
        # The learner finished the run and told it so: done, not dead.
        del self._actors[task]
        continue
      restarts = self._restarts.get(task, 0)
      self._print(f'launcher: actor {task} (pid {proc.pid}) exited with status {code}; '
                  f'last lines of {proc.log_path}:\n{_tail(proc.log_path, 8)}')
      if restarts >= MAX_ACTOR_RESTARTS:
        return f'actor {task} died {restarts + 1} times; giving up.'
      self._restarts[task] = restarts + 1
      self._print(f'launcher: restarting actor {task} ({restarts + 1}/{MAX_ACTOR_RESTARTS}).')
      self._start_actor(task)
    return None

  def _stop_actors(self):
    for proc in self._actors.values():
      if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    # Actors hold nothing worth saving; one blocked inside a Reverb call
    # cannot run its signal handler, so it is killed after a short grace.
    deadline = time.time() + 3
    for proc in self._actors.values():
      try:
        proc.wait(timeout=max(0.1, deadline - time.time()))
      except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()

  @staticmethod
  def _read_status(path):
    try:
      with open(path) as f:
        return json.load(f)
    except (OSError, ValueError):
      return None

  def _print_progress(self, status_path):
    s = self._read_status(status_path)
    if not s:
      self._print('launcher: waiting for the learner\'s first steps...')
      return
    ret = s['episode_return_mean']
    ret = 'n/a' if ret is None else f'{ret:.2f}'
    lag = 'n/a' if s['policy_lag'] is None else f"{s['policy_lag']:.1f}"
    per_task = s.get('episode_return_mean_per_task') or {}
    tasks = ''
    if len(per_task) > 1:
      tasks = ' | ' + ', '.join(f"{name} {'n/a' if v is None else f'{v:.2f}'}"
                                for name, v in per_task.items())
      hns = s.get('human_normalized')
      if hns:
        tasks += f" | median human-normalised {hns['median']:.3f}"
    self._print(
        f"frames {s['env_frames']:,} ({s['frames_per_second']:,.0f}/s) | "
        f"return {ret} (last {min(s['episodes'], 100)} of {s['episodes']} episodes) | "
        f"policy lag {lag} | learner {s['learner_steps_per_second']:.1f} "
        f"steps/s | queue {s['queue_size']}/"
        f"{s.get('queue_capacity', self._config.queue_capacity)}{tasks}")


# Set in the environment of a launcher running in its private namespace.
PRIVATE_NETNS_ENV = 'IMPALA_TF_PRIVATE_NETNS'


class IsolationError(RuntimeError):
  """The private network namespace could not be made."""


def reexec_in_private_network_namespace(argv):
  """Re-runs this program inside a new, private network namespace.

  Reverb 0.14 listens on every interface with no authentication, so a local
  run must not be reachable from other hosts. `unshare --net
  --map-root-user` (no root needed where unprivileged user namespaces are
  allowed) gives the launcher, the learner and the actors a network stack of
  their own with only a loopback interface: the queue port does not exist
  outside it. Returns only if already inside such a namespace.
  """
  if os.environ.get(PRIVATE_NETNS_ENV) == '1':
    return
  unshare = shutil.which('unshare')
  probe = subprocess.run(
      [unshare or 'unshare', '--net', '--map-root-user', '--', 'sh', '-c', 'ip link set lo up'],
      capture_output=True, text=True) if unshare else None
  if probe is None or probe.returncode != 0:
    reason = probe.stderr.strip() if probe is not None else 'unshare not found'
    raise IsolationError(
        f'Cannot create a private network namespace ({reason}). Without one the '
        "learner's Reverb port is reachable from other hosts; pass --isolate_network=false "
        'to accept that (on a trusted, firewalled network only).')
  env = dict(os.environ, **{PRIVATE_NETNS_ENV: '1'})
  os.execvpe(unshare, [unshare, '--net', '--map-root-user', '--', 'sh', '-c',
                       'ip link set lo up && exec "$@"', 'sh', sys.executable, *argv], env)
