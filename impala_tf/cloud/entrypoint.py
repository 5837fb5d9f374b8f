"""What the image's entrypoint starts: the learner or an actor binary.

`command(role, config_path, logdir)` is the argv of the binary for a
resolved role; `config_file(config_path, environ, scratch)` is the config
file to give it: the mounted file on GKE, or on Vertex the text of the
IMPALA_TF_CONFIG variable written to `scratch`.
"""

import os
import sys
from typing import List, Mapping, Optional

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


def command(role: roles.Role, config_path: str, logdir: str,
            python: str = sys.executable) -> List[str]:
  """The argv that runs `role`'s binary."""
  if role.kind == roles.LEARNER:
    return [python, '-m', 'impala_tf_binaries.learner', f'--config={config_path}',
            f'--logdir={logdir}', f'--port={role.port}']
  return [python, '-m', 'impala_tf_binaries.actor', f'--config={config_path}',
          f'--learner_address={role.learner_address}', f'--task={role.index}']
