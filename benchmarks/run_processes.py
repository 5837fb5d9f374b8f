"""The processes of a local run (binaries/train_local.py) and the CPU they use.

`role` names each process of the launcher's tree (launcher, learner,
actor_K); `cpu_seconds` reads, per role, the CPU time used so far, and for
the learner per thread name (the Python main thread; Reverb's and gRPC's
named threads; TensorFlow's pool threads keep the process's name), so two
readings give where a run's cores went between them. Linux only (it reads
/proc).
"""

import re

import psutil


def role(proc, root):
  """'launcher', 'learner', 'actor_K', or None (the sh/unshare wrappers of
  the private network namespace)."""
  if proc.pid == root.pid:
    return 'launcher'
  cmd = ' '.join(proc.cmdline())
  if 'actor.py' in cmd:
    task = re.search(r'--task=(\d+)', cmd)
    return f'actor_{task.group(1) if task else "?"}'
  if 'learner.py' in cmd:
    return 'learner'
  return None


def _thread_kind(pid, tid):
  try:
    with open(f'/proc/{pid}/task/{tid}/comm') as f:
      name = f.read().strip()
  except OSError:
    return 'gone'
  if tid == pid:
    return 'python main'
  # Numbered threads of one pool ('worker-3', 'pool_12') are one kind.
  return re.sub(r'[\d_/-]+$', '', name) or name


def cpu_seconds(root):
  """{role: CPU seconds (user + system)} over the launcher's tree, and
  {thread kind: CPU seconds} of the learner's threads."""
  roles, learner_threads = {}, {}
  for proc in [root] + root.children(recursive=True):
    try:
      name = role(proc, root)
      if not name:
        continue
      times = proc.cpu_times()
      roles[name] = roles.get(name, 0.0) + times.user + times.system
      if name == 'learner':
        for thread in proc.threads():
          kind = _thread_kind(proc.pid, thread.id)
          learner_threads[kind] = (learner_threads.get(kind, 0.0) + thread.user_time
                                   + thread.system_time)
    except psutil.NoSuchProcess:
      continue
  return roles, learner_threads


def per_frame_microseconds(before, after, frames):
  """CPU microseconds per environment frame between two `cpu_seconds`
  readings (each a dict), for every key of `after`."""
  return {k: 1e6 * (v - before.get(k, 0.0)) / frames for k, v in after.items()
          if v - before.get(k, 0.0) > 0}
