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


def variables_of(objects) -> list:
  """Every variable the trackable `objects` ({name: object}) hold: a
  variable itself, or a Keras model's or tf.Module's `.variables`."""
  out = []
  for obj in objects.values():
    out.extend([obj] if isinstance(obj, tf.Variable) else getattr(obj, 'variables', ()))
  return out


def restore_all_or_nothing(checkpoint: tf.train.Checkpoint, path: str, variables,
                           partial: bool = False):
  """Restores `path` into `checkpoint`'s objects, or, if that fails part-way
  (a variable of another shape after others were assigned, a truncated
  file), puts every one of `variables` back as it was and raises the error.
  `partial`: the checkpoint may hold objects `checkpoint` does not (an
  exploit reads only part of another member's)."""
  saved = [v.numpy() for v in variables]
  try:
    status = checkpoint.restore(path)
    if partial:
      status = status.expect_partial()
    status.assert_existing_objects_matched()
  except RESTORE_ERRORS:
    for variable, value in zip(variables, saved):
      variable.assign(value)
    raise


class Checkpointer:
  """Saves and restores the named trackable objects under `directory`. A
  restore that fails leaves every variable as it was."""

  def __init__(self, directory: str, max_to_keep: int, **objects):
    self._variables = variables_of(objects)
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
      restore_all_or_nothing(self._checkpoint, path, self._variables)
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
