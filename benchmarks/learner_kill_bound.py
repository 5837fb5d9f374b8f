r"""What a killed learner had published, against what its status and its actors' logs said.

  python benchmarks/learner_kill_bound.py [--kills=3] [--log_every_seconds=0.5]

For each kill: a CartPole learner and two actor processes on 127.0.0.1 (the
small config of tests/faults_test.py) train until a checkpoint exists and the
status shows 10 steps. Then it prints three numbers: the bound the fault test
used to take (the status file's steps and the actors' newest logged weights
version, plus 50), the newest version the learner had actually published
(read from its version table while the actors are stopped, so that none can
fetch a newer one), and the first versions each actor logged after the
learner was killed (SIGKILL) and restarted from its checkpoint. Ends with one
JSON line of the same numbers (docs/development.md, "Bounding what a killed
learner published").
"""

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

from absl import app
from absl import flags
import portpicker
import reverb
import tensorflow as tf

from impala_tf import config as config_lib
from impala_tf import weights as weights_lib

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_KILLS = flags.DEFINE_integer('kills', 3, 'Learners to kill, one run each.')
_LOG_EVERY = flags.DEFINE_float('log_every_seconds', 0.5, 'The runs\' status and log interval.')


def _versions(text):
  return [int(v) for v in re.findall(r'weights v(\d+)', text)]


def _read(path):
  try:
    with open(path, errors='replace') as f:
      return f.read()
  except OSError:
    return ''


def _wait(predicate, seconds, what):
  deadline = time.time() + seconds
  while not predicate():
    if time.time() > deadline:
      raise RuntimeError(f'timed out waiting for {what}')
    time.sleep(0.2)


def one_kill(tmp):
  config_path = os.path.join(tmp, 'config.py')
  config_lib.write_config_file(config_lib.ImpalaConfig(
      env_id='CartPole-v1', torso='mlp', action_repeat=1, unroll_length=5, envs_per_actor=4,
      batch_size=8, num_actors=2, queue_capacity=2, reward_clipping='none',
      log_every_seconds=_LOG_EVERY.value, checkpoint_every_seconds=1.0), config_path)
  logdir, port = os.path.join(tmp, 'run'), portpicker.pick_unused_port()
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='3')
  procs = []

  def spawn(binary, log, *extra):
    out = open(os.path.join(tmp, log), 'ab')
    procs.append(subprocess.Popen(
        [sys.executable, os.path.join(_REPO, 'binaries', binary), f'--config={config_path}',
         *extra], stdout=out, stderr=subprocess.STDOUT, env=env))
    return procs[-1]

  status = lambda: json.loads(_read(os.path.join(logdir, 'status.json')) or '{}')
  actor_log = lambda i: _read(os.path.join(tmp, f'actor_{i}.log'))
  try:
    learner = spawn('learner.py', 'learner.log', f'--logdir={logdir}', f'--port={port}')
    actors = [spawn('actor.py', f'actor_{i}.log', f'--learner_address=127.0.0.1:{port}',
                    f'--task={i}') for i in range(2)]
    ckpt_dir = os.path.join(logdir, 'checkpoints')
    _wait(lambda: tf.train.latest_checkpoint(ckpt_dir) and status().get('learner_steps', 0) >= 10,
          300, 'a checkpoint and 10 steps')
    bound = max([status()['learner_steps']] + [max(_versions(actor_log(i)) or [0])
                                               for i in range(2)]) + 50
    for a in actors:
      a.send_signal(signal.SIGSTOP)
    newest = next(reverb.Client(f'127.0.0.1:{port}').sample(
        weights_lib.VERSION_TABLE, emit_timesteps=False, unpack_as_table_signature=True))
    published = int(newest.data['version'])
    learner.send_signal(signal.SIGKILL)
    learner.wait()
    starts = [len(actor_log(i)) for i in range(2)]
    for a in actors:
      a.send_signal(signal.SIGCONT)
    spawn('learner.py', 'learner_2.log', f'--logdir={logdir}', f'--port={port}')
    _wait(lambda: all(len(_versions(actor_log(i)[starts[i]:])) >= 3 for i in range(2)), 300,
          'three log lines of each actor after the restart')
    return {'old_bound': bound, 'published': published,
            'saved_step': int(tf.train.latest_checkpoint(ckpt_dir).rsplit('-', 1)[-1]),
            'first_logged_after_kill': [_versions(actor_log(i)[starts[i]:])[:3]
                                        for i in range(2)]}
  finally:
    for p in procs:
      if p.poll() is None:
        p.send_signal(signal.SIGCONT)
        p.kill()
      p.wait()


def main(argv):
  del argv
  kills = []
  for k in range(_KILLS.value):
    with tempfile.TemporaryDirectory() as tmp:
      kills.append(one_kill(tmp))
    r = kills[-1]
    print(f"kill {k}: old bound {r['old_bound']}, newest published {r['published']}, "
          f"restarted from step {r['saved_step']}, first versions each actor logged after the "
          f"kill {r['first_logged_after_kill']}", flush=True)
  print(json.dumps({'log_every_seconds': _LOG_EVERY.value, 'kills': kills}))


if __name__ == '__main__':
  app.run(main)
