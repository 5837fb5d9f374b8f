"""A whole population on this machine: one local run (learner + actors) per member.

`run_population` starts `binaries/train_local.py` once per member, each with
its own run directory (`<logdir>/member_<i>`), seed (config seed + i) and
the shared population directory (`<logdir>/population`), prints a line per
interval with every member's frames, fitness and hyperparameters, restarts a
member whose run dies (it resumes from its own checkpoint and rejoins), and
ends with a summary: the best member and its return, and the numbers of
exploits and explores. The members' lineage logs are merged into
`<logdir>/lineage.jsonl`.
"""

import json
import os
import signal
import subprocess
import sys
import time

from impala_tf.pbt import population as population_lib

# Restarts of one member before the population run gives up on it.
MAX_MEMBER_RESTARTS = 5


class PopulationRun:
  """Runs `size` members of `preset` (with overrides) under `logdir`."""

  def __init__(self, preset: str, size: int, logdir: str, train_local: str, overrides=(),
               member_overrides=None, log_every_seconds: float = 10.0, print_fn=print,
               seed: int = 0):
    """
    Args:
      preset: the config file every member starts from.
      size: the number of members.
      logdir: the run directory (members' runs and the population inside).
      train_local: path of binaries/train_local.py.
      overrides: --config.FIELD=VALUE flags for every member.
      member_overrides: {member: [--config.FIELD=VALUE, ...]} for one member.
      log_every_seconds: interval of the progress lines.
      print_fn: where lines go.
      seed: the preset's seed; member i runs with seed + i (unless an
        override sets its seed).
    """
    self.size = size
    self.logdir = os.path.abspath(logdir)
    self.population_dir = os.path.join(self.logdir, 'population')
    self._preset = preset
    self._train_local = train_local
    self._overrides = list(overrides)
    self._member_overrides = member_overrides or {}
    self._log_every = log_every_seconds
    self._print = print_fn
    self._procs = {}
    self._restarts = {}
    self._stop = None
    self._seed = seed

  def _start(self, member):
    run_dir = os.path.join(self.logdir, f'member_{member}')
    os.makedirs(run_dir, exist_ok=True)
    argv = [sys.executable, self._train_local, f'--config={self._preset}',
            f'--logdir={run_dir}', '--isolate_network=false',
            f'--pbt_dir={self.population_dir}', f'--pbt_member={member}',
            *self._overrides, *self._member_overrides.get(member, [])]
    if not any(a.startswith('--config.seed=') for a in argv):
      argv.append(f'--config.seed={self._seed + member}')
    log = open(os.path.join(self.logdir, f'member_{member}.log'), 'ab')
    self._procs[member] = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    log.close()

  def _on_signal(self, signum, unused_frame):
    self._stop = signum

  def run(self):
    """Runs the population to the end; returns the summary dict."""
    os.makedirs(self.logdir, exist_ok=True)
    population = population_lib.Population(self.population_dir)
    # Members of an older, larger population in this directory are not candidates.
    population.write_size(self.size)
    previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT,
                                                                      signal.SIGTERM)}
    start = time.time()
    try:
      for member in range(self.size):
        self._start(member)
      next_log = time.time() + self._log_every
      while True:
        running = 0
        for member, proc in list(self._procs.items()):
          code = proc.poll()
          if code is None:
            running += 1
          elif code != 0 and self._stop is None:
            restarts = self._restarts.get(member, 0)
            if restarts < MAX_MEMBER_RESTARTS:
              self._restarts[member] = restarts + 1
              self._print(f'pbt: member {member} exited with status {code}; restarting it '
                          f'({restarts + 1}/{MAX_MEMBER_RESTARTS}).')
              self._start(member)
              running += 1
        if running == 0:
          break
        if self._stop is not None:
          for proc in self._procs.values():
            if proc.poll() is None:
              proc.send_signal(signal.SIGINT)
          for proc in self._procs.values():
            proc.wait()
          break
        if time.time() >= next_log:
          self._print_progress(population)
          next_log += self._log_every
        time.sleep(0.5)
    finally:
      for proc in self._procs.values():
        if proc.poll() is None:
          proc.kill()
      for sig, handler in previous.items():
        signal.signal(sig, handler)
    return self._summary(population, time.time() - start)

  def _print_progress(self, population):
    parts = []
    for member in range(self.size):
      state = population.read_state(member)
      if state is None:
        parts.append(f'{member}: starting')
        continue
      fitness = state.get('fitness')
      hp = ' '.join(f'{k[:2]}={v:.2g}' for k, v in sorted(state['hyperparameters'].items()))
      parts.append(f"{member}: {state['frames']:,} fr, "
                   f"{'n/a' if fitness is None else f'{fitness:.1f}'} ({hp})")
    self._print('pbt | ' + ' | '.join(parts))

  def _summary(self, population, wall):
    states = {m: population.read_state(m) for m in range(self.size)}
    scored = {m: s['fitness'] for m, s in states.items() if s and s.get('fitness') is not None}
    best = max(scored, key=scored.get) if scored else None
    events = population.lineage()
    with open(os.path.join(self.logdir, 'lineage.jsonl'), 'w') as f:
      for event in events:
        f.write(json.dumps(event, sort_keys=True) + '\n')
    return {
        'population': self.size,
        'best_member': best,
        'best_episode_return_mean': scored.get(best),
        'fitness_per_member': {str(m): scored.get(m) for m in range(self.size)},
        'exploits': sum(e['event'] == 'exploit' for e in events),
        'explores': sum(e['event'] == 'explore' for e in events),
        'member_restarts': sum(self._restarts.values()),
        'wall_seconds': round(wall, 1),
        'logdir': self.logdir,
    }
