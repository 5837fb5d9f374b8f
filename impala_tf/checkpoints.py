"""Learner checkpoints: network, optimiser (with its step and schedule), counters.

`tf.train.CheckpointManager` writes a checkpoint's files first and only then
replaces the small 'checkpoint' index file, atomically (write to a temporary
file, then rename). A crash mid-write therefore leaves the index pointing at
the previous complete checkpoint; the half-written files are ignored.
"""

from absl import logging
import tensorflow as tf


# A damaged or mismatched checkpoint surfaces as any of these, depending on
# which part broke.
RESTORE_ERRORS = (tf.errors.OpError, AssertionError, ValueError, IndexError, KeyError)


class CheckpointError(RuntimeError):
  """A checkpoint exists but cannot be restored into this learner."""


class Checkpointer:
  """Saves and restores the named trackable objects under `directory`."""

  def __init__(self, directory: str, max_to_keep: int, **objects):
    self._checkpoint = tf.train.Checkpoint(**objects)
    self._manager = tf.train.CheckpointManager(
        self._checkpoint, directory, max_to_keep=max_to_keep)
    self.directory = directory

  @property
  def latest(self):
    return self._manager.latest_checkpoint

  def restore_latest(self):
    """Restores the newest checkpoint, if any; returns its path or None."""
    path = self._manager.latest_checkpoint
    if path is None:
      if tf.io.gfile.isdir(self.directory) and tf.io.gfile.listdir(self.directory):
        logging.warning('No checkpoint index in %s; starting from scratch.', self.directory)
      return None
    self.restore(path)
    logging.info('Restored %s.', path)
    return path

  def restore(self, path):
    try:
      status = self._checkpoint.restore(path)
      status.assert_existing_objects_matched()
    except RESTORE_ERRORS as e:
      raise CheckpointError(
          f'Checkpoint {path} cannot be restored ({type(e).__name__}: '
          f'{str(e).splitlines()[0][:300]}). It may be damaged or come from a different '
          'configuration (network or environment); start with a new --logdir or remove it.'
      ) from e

  def save(self, step: int) -> str:
    path = self._manager.save(checkpoint_number=step)
    logging.info('Saved checkpoint %s.', path)
    return path
