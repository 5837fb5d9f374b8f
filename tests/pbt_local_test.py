"""A CartPole population end to end: real learners, actors and a shared directory."""

import glob
import json
import os
import subprocess
import sys
import time

import numpy as np
import psutil
import pytest
import tensorflow as tf

from impala_tf.pbt import member as member_lib
import small_runs  # tests/small_runs.py

# Tier (pytest.ini): a population of learner process trees trained to a return.
pytestmark = pytest.mark.learning

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# What the best member's fitness (mean return over its last window) must reach.
BEST_RETURN = 450.0
# Kept by every member, so that the checkpoints an exploit read and wrote
# can be compared after the run (the preset keeps 3: PBT's minimum).
CHECKPOINTS_KEPT = 100
# What an exploit does not copy: the member's own counters, and the
# hyperparameters its explore changes right after (checked on their own).
_NOT_COPIED = ('env_frames/', 'learner_steps/', 'skipped_updates/', 'save_counter/',
               'hyperparameters/', '_CHECKPOINTABLE_OBJECT_GRAPH')


def _values(path):
  reader = tf.train.load_checkpoint(path)
  return {k: reader.get_tensor(k) for k in reader.get_variable_to_shape_map()}


def _hyperparameters(values):
  """{name: value} of a checkpoint's PBT-settable hyperparameters."""
  prefix, suffix = 'hyperparameters/', '/.ATTRIBUTES/VARIABLE_VALUE'
  return {k[len(prefix):-len(suffix)]: v for k, v in values.items()
          if k.startswith(prefix) and k.endswith(suffix)}


def _story(result, output, events):
  progress = [line for line in output.splitlines() if line.startswith('pbt |')][-12::4]
  decisions = []
  for e in events:
    if e['event'] == 'exploit':
      decisions.append(f"{e['frames']:>7} m{e['member']} copies m{e['source']} "
                       f"({e['own_fitness']:.0f} < {e['source_fitness']:.0f})")
    elif e['event'] == 'explore':
      hp = ' '.join(f'{k[:2]}={v:.2g}' for k, v in sorted(e['after'].items()))
      fitness = e.get('own_fitness')
      decisions.append(f"{e['frames']:>7} m{e['member']} "
                       f"{'n/a' if fitness is None else f'{fitness:.0f}'} -> {hp}")
    elif e['event'] in ('restart', 'exploit_failed'):
      decisions.append(f"{e['frames']:>7} m{e['member']} {e['event']}")
  return '\n'.join([json.dumps(result), *progress, *decisions])


class PopulationTest(tf.test.TestCase):

  def test_bad_member_is_exploited_best_learns_killed_member_rejoins(self):
    logdir = os.path.join(self.get_temp_dir(), 'pbt')
    proc = subprocess.Popen(
        [sys.executable, os.path.join(_REPO, 'binaries', 'pbt_local.py'),
         f'--config={os.path.join(_REPO, "configs", "cartpole_pbt.py")}', '--population=4',
         f'--logdir={logdir}', '--member_override=0:learning_rate=1e-7',
         f'--config.checkpoints_to_keep={CHECKPOINTS_KEPT}'],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL='3'))
    # Kill member 2's learner once it has published a state mid-run.
    state_path = os.path.join(logdir, 'population', 'member_2', 'state.json')
    killed = False
    published_frames = 0
    # A bound on a hung run only: the schedule itself runs on frames.
    deadline = time.time() + 1800
    while not killed and time.time() < deadline and proc.poll() is None:
      time.sleep(1)
      try:
        with open(state_path) as f:
          published_frames = json.load(f)['frames']
      except (OSError, ValueError):
        continue
      if published_frames < 100_000:
        continue
      for p in psutil.process_iter(['cmdline']):
        cmd = ' '.join(p.info['cmdline'] or [])
        if 'learner.py' in cmd and '--pbt_member=2' in cmd:
          p.kill()
          killed = True
    self.assertTrue(killed, 'member 2 never reached 100k frames')
    output = proc.communicate(timeout=2400)[0]
    self.assertEqual(proc.returncode, 0, output[-4000:])
    result = small_runs.final_json(output)
    print(json.dumps(result))   # shown with pytest -rP: the run's figures
    with open(os.path.join(logdir, 'lineage.jsonl')) as f:
      events = [json.loads(line) for line in f]
    # What a failure shows: the run's figures, its last progress lines (each
    # member's frames, fitness and hyperparameters) and its decisions; the
    # run directory is deleted with the test's.
    story = _story(result, output, events)
    self.assertEqual(result['population'], 4)
    # The population learns (a random policy scores ~20; the cap is 500).
    self.assertGreaterEqual(result['best_episode_return_mean'], BEST_RETURN, story)
    self.assertGreaterEqual(result['exploits'], 1, story)
    # Every ready decision explores, copy or not.
    self.assertGreater(result['explores'], result['exploits'], story)
    self.assertGreaterEqual(result['member_restarts'], 1, story)
    # The member started with a learning rate too small to learn copied a
    # member better by more than the preset's margin (25).
    self.assertAllClose(1e-7, [e for e in events if e['member'] == 0][0]['after']['learning_rate'])
    copies = [e for e in events if e['member'] == 0 and e['event'] == 'exploit']
    self.assertNotEmpty(copies, events)
    self.assertGreater(copies[0]['source_fitness'] - copies[0]['own_fitness'], 25.0, copies[0])
    self._assert_copied(logdir, events, copies[0])
    # The killed member came back from at least the state it had published
    # before the kill (not from scratch, not from an older checkpoint), and
    # trained to the budget.
    restarts = [e for e in events if e['member'] == 2 and e['event'] == 'restart']
    self.assertLen(restarts, 1, events)
    self.assertGreaterEqual(restarts[0]['frames'], published_frames, restarts)
    self.assertGreaterEqual(published_frames, 100_000)
    with open(os.path.join(logdir, 'population', 'member_2', 'state.json')) as f:
      self.assertGreaterEqual(json.load(f)['frames'], 400_000)
    # The population's plot: returns and hyperparameters per member.
    png = os.path.join(logdir, 'pbt.png')
    small_runs.run_binary('plot', f'--population={logdir}', f'--out={png}', timeout=300)
    self.assertGreater(os.path.getsize(png), 10_000)

  def _assert_copied(self, logdir, events, exploit):
    """The copy itself: the checkpoint member 0 published right after its
    exploit (at the exploit's frames) holds the source checkpoint's network,
    observation normaliser, optimiser slots and step; its hyperparameters
    right after the copy were the source's, and then its explore's."""
    source = _values(exploit['checkpoint'])
    published = [p[:-len('.index')] for p in glob.glob(
        os.path.join(logdir, 'population', 'member_0', 'checkpoints', 'ckpt-*.index'))]
    at_exploit = [p for p in published
                  if member_lib.checkpoint_frames(p) == exploit['frames']]
    self.assertLen(at_exploit, 1, (exploit, published))
    after = _values(at_exploit[0])
    copied = sorted(k for k in source if not k.startswith(_NOT_COPIED))
    self.assertEqual(copied, sorted(k for k in after if not k.startswith(_NOT_COPIED)))
    self.assertTrue(any(k.startswith('network/') for k in copied), copied)
    self.assertTrue(any(k.startswith('optimizer/') for k in copied), copied)
    for key in copied:
      self.assertAllEqual(source[key], after[key], msg=key)
    source_hp = _hyperparameters(source)
    self.assertEqual(sorted(exploit['after']), sorted(k for k in source_hp
                                                      if k in exploit['after']))
    for name, value in exploit['after'].items():
      self.assertAllClose(source_hp[name], value, rtol=1e-6, msg=name)
    explore = [e for e in events if e['member'] == 0 and e['event'] == 'explore'
               and e['frames'] == exploit['frames']]
    self.assertLen(explore, 1)
    after_hp = _hyperparameters(after)
    for name, value in explore[0]['after'].items():
      self.assertAllClose(np.float32(value), after_hp[name], rtol=1e-6, msg=name)


if __name__ == '__main__':
  tf.test.main()
