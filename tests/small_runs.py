"""Small CartPole runs for the tests: one config, the binaries, a learner with an actor.

- `cartpole(**fields)`: the small CartPole config most tests start from (an MLP,
  unrolls of 5 steps, 4 environments an actor, batches of 8, rewards unclipped),
  with the test's own fields on top.
- `run_binary(name, *flags)`: runs `binaries/<name>.py` in a subprocess and
  returns the finished process; `final_json(stdout)` parses the last JSON line
  the binaries print; `train_local(logdir, *flags)` does both for a training run.
- `train_in_process(config, logdir, steps)`: a learner and one actor thread in
  this process, on a real Reverb server on 127.0.0.1, for `steps` learner steps;
  `acting(learner, actor)`, the actor thread alone, for a test's own loop.
"""

import contextlib
import json
import os
import subprocess
import sys
import threading

from impala_tf import config as config_lib

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BINARIES = os.path.join(REPO, 'binaries')
CONFIGS = os.path.join(REPO, 'configs')
# SDL_AUDIODRIVER: gymnasium's renderer (pygame) has no sound card here.
ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='3', SDL_AUDIODRIVER='dummy')

CARTPOLE = dict(env_id='CartPole-v1', torso='mlp', action_repeat=1, unroll_length=5,
                envs_per_actor=4, batch_size=8, num_actors=1, reward_clipping='none')


def cartpole(**fields) -> config_lib.ImpalaConfig:
  """The small CartPole config with `fields` replacing its defaults."""
  return config_lib.ImpalaConfig(**dict(CARTPOLE, **fields))


def final_json(stdout: str) -> dict:
  """The last line of `stdout` that is a JSON object (the binaries' result)."""
  lines = [line for line in stdout.splitlines() if line.startswith('{')]
  assert lines, f'no JSON line in the output:\n{stdout[-3000:]}'
  return json.loads(lines[-1])


def run_binary(name: str, *flags, timeout: float = 600, check: bool = True):
  """Runs `binaries/<name>.py *flags`; returns the CompletedProcess (text).
  `check`: a non-zero exit fails with the output's tail."""
  proc = subprocess.run([sys.executable, os.path.join(BINARIES, f'{name}.py'), *flags],
                        capture_output=True, text=True, timeout=timeout, env=ENV, check=False)
  if check:
    assert proc.returncode == 0, (f'{name}.py exited {proc.returncode}:\n'
                                  + proc.stdout[-3000:] + proc.stderr[-3000:])
  return proc


def train_local(logdir: str, *flags, preset: str = 'cartpole.py', timeout: float = 1200) -> dict:
  """`train_local.py --config=configs/<preset> --logdir=logdir *flags`; its result."""
  proc = run_binary('train_local', f'--config={os.path.join(CONFIGS, preset)}',
                    f'--logdir={logdir}', *flags, timeout=timeout)
  return final_json(proc.stdout)


@contextlib.contextmanager
def acting(learner, actor):
  """Runs `actor` in a daemon thread for the block; then stops it and closes
  `learner` (its server)."""
  stop = threading.Event()
  thread = threading.Thread(target=actor.run, kwargs={'stop': stop}, daemon=True)
  thread.start()
  try:
    yield
  finally:
    stop.set()
    learner.close()
    # An actor blocked on the closed server may not come back (it is a
    # daemon thread, and nothing reads it after this): waiting 30 s for it
    # cost two synchronous tests 30 s each on some runs.
    thread.join(timeout=5)


def train_in_process(config, logdir: str, steps: int, on_trained=None):
  """Trains `steps` learner steps with one actor thread; returns (learner, status).

  `on_trained(learner, actor)` runs after training, before the learner's
  server stops (to read what it published); its value is returned third.
  The learner is closed on return.
  """
  # Imported here: the tests that only need `cartpole` (and their BUILD
  # targets) do not depend on the learner and actor.
  from impala_tf import actor as actor_lib  # pylint: disable=g-import-not-at-top
  from impala_tf import learner as learner_lib  # pylint: disable=g-import-not-at-top
  learner = learner_lib.Learner(config, logdir)
  actor = actor_lib.Actor(config, f'127.0.0.1:{learner.port}', task=0)
  with acting(learner, actor):
    status = learner.run(max_steps=steps)
    seen = on_trained(learner, actor) if on_trained else None
  return learner, status, seen
