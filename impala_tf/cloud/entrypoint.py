"""What the image's entrypoint starts: the learner or actor binaries.

`commands(role, config_path, logdir)` are the argvs of the binaries for a
resolved role: one learner, or the container's actors (several per pod);
`config_file(config_path, environ, scratch)` is the config file to give
them: the mounted file on GKE, or on Vertex the text of the
IMPALA_TF_CONFIG variable written to `scratch`. `supervise` runs several
actor processes as one container.
"""

import os
import signal
import subprocess
import sys
import time
from typing import List, Mapping, Optional, Sequence

from impala_tf.cloud import launch
from impala_tf.cloud import roles


def config_file(config_path: Optional[str], environ: Mapping[str, str], scratch: str) -> str:
  """The path of the run's config file.

  Raises:
    roles.RoleError: neither --config nor IMPALA_TF_CONFIG gives one.
  """
  if config_path:
    if not os.path.isfile(config_path):
      raise roles.RoleError(f'--config={config_path} does not exist (is the run\'s ConfigMap '
                            'mounted?).')
    return config_path
  text = environ.get(launch.CONFIG_TEXT_VARIABLE)
  if not text:
    raise roles.RoleError(f'no config: pass --config=PATH or set {launch.CONFIG_TEXT_VARIABLE} '
                          'to the text of the run\'s config.py.')
  os.makedirs(scratch, exist_ok=True)
  path = os.path.join(scratch, launch.CONFIG_FILE)
  with open(path, 'w') as f:
    f.write(text)
  return path


def commands(role: roles.Role, config_path: str, logdir: str,
             python: str = sys.executable) -> List[List[str]]:
  """The argvs of `role`'s processes: the learner, or one per actor task.
  Actors get the logdir too: one that cannot reach the learner reads there
  whether the run has finished (then it exits 0)."""
  member = []
  if role.member is not None:
    # A PBT member: its own run directory and seed beside the population's
    # shared directory (the layout pbt_local.py uses).
    logdir = f'{logdir.rstrip("/")}/member_{role.member}'
    member = [f'--config.seed={role.seed + role.member}']
  if role.kind == roles.LEARNER:
    pbt = ([f'--pbt_dir={os.path.dirname(logdir)}/population', f'--pbt_member={role.member}',
            f'--pbt_size={role.population}'] if role.member is not None else [])
    return [[python, '-m', 'impala_tf_binaries.learner', f'--config={config_path}',
             f'--logdir={logdir}', f'--port={role.port}', *pbt, *member]]
  return [[python, '-m', 'impala_tf_binaries.actor', f'--config={config_path}',
           f'--learner_address={role.learner_address}', f'--task={task}',
           f'--logdir={logdir}', *member] for task in role.tasks]


def supervise(argvs: Sequence[Sequence[str]], poll_seconds: float = 0.5) -> int:
  """Runs the processes together as one container; returns its exit status.

  SIGTERM or SIGINT (the platform stopping the pod) is passed on to every
  process. When one exits non-zero the others are stopped and its status is
  the container's (so a pod failure policy sees the actor's own code); when
  all exit 0, so does the container.
  """
  procs = [subprocess.Popen(list(argv)) for argv in argvs]

  def forward(signum, unused_frame):
    for p in procs:
      if p.poll() is None:
        p.send_signal(signum)

  previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGTERM, signal.SIGINT)}
  try:
    while True:
      codes = [p.poll() for p in procs]
      failed = [c for c in codes if c not in (None, 0)]
      if failed:
        forward(signal.SIGTERM, None)
        for p in procs:
          p.wait()
        return failed[0] if failed[0] > 0 else 1
      if all(c == 0 for c in codes):
        return 0
      time.sleep(poll_seconds)
  finally:
    for sig, handler in previous.items():
      signal.signal(sig, handler)
