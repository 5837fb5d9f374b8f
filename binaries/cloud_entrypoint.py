r"""The container image's entrypoint: resolves this pod's role and becomes it.

  python -m impala_tf_binaries.cloud_entrypoint [--config=PATH] --logdir=gs://...

The role (learner or actor), the actor's index and the learner's address
come from the platform's environment (impala_tf/cloud/roles.py); the config
from --config (GKE's mounted ConfigMap) or the IMPALA_TF_CONFIG variable
(Vertex AI). A learner, or a lone actor, replaces this process, so signals
and the exit status are the binary's own; several actors per container run
side by side under `entrypoint.supervise`, which passes signals on and
exits with the first failure's status (or 0).
"""

import os
import sys
import tempfile

from absl import app
from absl import flags

from impala_tf.cloud import entrypoint
from impala_tf.cloud import roles

_CONFIG = flags.DEFINE_string('config', None, 'The run\'s config.py (default: the text of '
                              'the IMPALA_TF_CONFIG variable).')
_LOGDIR = flags.DEFINE_string('logdir', None, 'The run directory (gs://...).')
_DRY_RUN = flags.DEFINE_bool('dry_run', False, 'Print the command instead of running it.')
flags.mark_flags_as_required(['logdir'])


def main(argv):
  del argv
  try:
    role = roles.resolve(os.environ)
    config_path = entrypoint.config_file(_CONFIG.value, os.environ,
                                         tempfile.mkdtemp(prefix='impala_tf_'))
  except roles.RoleError as e:
    print(f'error: {e}', file=sys.stderr, flush=True)
    sys.exit(2)
  argvs = entrypoint.commands(role, config_path, _LOGDIR.value)
  print(f'impala_tf entrypoint: {roles.describe(role)}:', flush=True)
  for argv in argvs:
    print(f'  {" ".join(argv)}', flush=True)
  if _DRY_RUN.value:
    return
  if len(argvs) == 1:
    os.execv(argvs[0][0], argvs[0])
  sys.exit(entrypoint.supervise(argvs))


def run():
  app.run(main)


if __name__ == '__main__':
  run()
