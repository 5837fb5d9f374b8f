"""Learning curves from a run's TensorBoard logs: return against frames and time."""

import glob
import os

import numpy as np
import tensorflow as tf
from tensorflow.core.util import event_pb2


def read_scalar(logdir: str, tag: str = 'episode_return', absolute_time: bool = False):
  """(frames, wall_seconds since the first event, values) of one scalar.

  The learner writes summaries with the environment-frame count as the step.
  With `absolute_time`, wall_seconds are Unix times instead.
  """
  files = sorted(glob.glob(os.path.join(logdir, 'train', 'events.out.tfevents.*')))
  if not files:
    raise FileNotFoundError(f'No TensorBoard event files under {os.path.join(logdir, "train")}.')
  rows = []
  for path in files:
    for record in tf.data.TFRecordDataset(path):
      event = event_pb2.Event.FromString(record.numpy())
      for value in event.summary.value:
        if value.tag == tag:
          rows.append((event.step, event.wall_time, float(tf.make_ndarray(value.tensor))))
  if not rows:
    raise ValueError(f'{logdir} has no {tag!r} summaries yet.')
  rows.sort()
  frames, wall, values = (np.array(c) for c in zip(*rows))
  return frames, (wall if absolute_time else wall - wall.min()), values


def plot_runs(logdirs, out_path: str, tag: str = 'episode_return', labels=None):
  """Draws `tag` against frames and against wall-clock time, one line per run."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  labels = labels or [os.path.basename(os.path.normpath(d)) for d in logdirs]
  fig, (ax_frames, ax_time) = plt.subplots(1, 2, figsize=(12, 4.5))
  for logdir, label in zip(logdirs, labels):
    frames, wall, values = read_scalar(logdir, tag)
    ax_frames.plot(frames / 1e6, values, label=label)
    ax_time.plot(wall / 60.0, values, label=label)
  title = 'mean episode return (last 100 episodes)' if tag == 'episode_return' else tag
  ax_frames.set_xlabel('environment frames (millions)')
  ax_time.set_xlabel('wall-clock time (minutes)')
  for ax in (ax_frames, ax_time):
    ax.set_ylabel(title)
    ax.grid(alpha=0.3)
    ax.legend()
  fig.tight_layout()
  fig.savefig(out_path, dpi=100)
  plt.close(fig)
  return out_path
