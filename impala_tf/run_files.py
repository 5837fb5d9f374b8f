"""A run directory's small files, through tf.io.gfile.

Every file a run writes or reads (status, config, exports, population state,
curves) goes through `tf.io.gfile`, so a logdir may be a local path or any
filesystem TensorFlow knows: `gs://` on a cluster, `ram://` in tests.
Checkpoints (`tf.train.CheckpointManager`) and summaries
(`tf.summary.create_file_writer`) already do.

Replacing a file: write a temporary file beside it, then rename it over the
old one. Locally the rename is atomic; on GCS the new object appears whole
when its upload completes, so a reader sees the old file or the new one,
never half of one.
"""

import json
import os

import tensorflow as tf

from impala_tf.choices import STATUS_FILE


def write_atomically(path: str, text: str):
  tmp = f'{path}.tmp.{os.getpid()}'
  with tf.io.gfile.GFile(tmp, 'w') as f:
    f.write(text)
  tf.io.gfile.rename(tmp, path, overwrite=True)


def read(path: str) -> str:
  with tf.io.gfile.GFile(path) as f:
    return f.read()


def is_remote(path: str) -> bool:
  """Whether `path` names a filesystem other than the local one."""
  return '://' in path and not path.startswith('file://')


def run_finished(logdir: str) -> bool:
  """Whether the run in `logdir` has reached its frame budget, as its
  learner's status file says (False if there is none or it is unreadable).
  An actor that cannot reach its learner asks this before retrying."""
  try:
    return bool(json.loads(read(os.path.join(logdir, STATUS_FILE))).get('finished'))
  except (tf.errors.OpError, ValueError, AttributeError):
    return False
