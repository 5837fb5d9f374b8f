"""Learning curves from a run's TensorBoard logs: return against frames and time."""

import os

import numpy as np
import tensorflow as tf
from tensorflow.core.util import event_pb2

from impala_tf import run_files


def read_scalar(logdir: str, tag: str = 'episode_return', absolute_time: bool = False):
  """(frames, wall_seconds since the first event, values) of one scalar.

  The learner writes summaries with the environment-frame count as the step.
  With `absolute_time`, wall_seconds are Unix times instead.
  """
  files = sorted(tf.io.gfile.glob(os.path.join(logdir, 'train', 'events.out.tfevents.*')))
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


def value_at(frames, values, budget):
  """The last value reported at or before `budget` frames (None if none)."""
  picked = [v for f, v in zip(frames, values) if f <= budget]
  return picked[-1] if picked else None


def _save(fig, out_path):
  """Saves a figure through tf.io.gfile (a local path, gs://, ...)."""
  with tf.io.gfile.GFile(out_path, 'wb') as f:
    fig.savefig(f, format=os.path.splitext(out_path)[1][1:] or 'png', dpi=100)


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
  _save(fig, out_path)
  plt.close(fig)
  return out_path


def plot_population(logdir: str, out_path: str):
  """A PBT population (binaries/pbt_local.py): each member's return against
  frames, and each searched hyperparameter against frames as the lineage
  log records it (start, then every exploit and explore)."""
  import json  # pylint: disable=g-import-not-at-top
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  events = [json.loads(line)
            for line in run_files.read(os.path.join(logdir, 'lineage.jsonl')).splitlines()
            if line.strip()]
  if not events:
    raise ValueError(f'{logdir}/lineage.jsonl has no events.')
  members = sorted({e['member'] for e in events})
  names = sorted({k for e in events for k in e['after']})
  fig, axes = plt.subplots(1 + len(names), 1, figsize=(9, 3 * (1 + len(names))), sharex=True)
  for m in members:
    colour = f'C{m % 10}'
    mine = [e for e in events if e['member'] == m and e['after']]
    # Each member's hyperparameter lines end where its own training ended.
    end = max([e['frames'] / 1e6 for e in mine], default=0.0)
    try:
      frames, _, values = read_scalar(os.path.join(logdir, f'member_{m}'))
      axes[0].plot(frames / 1e6, values, color=colour, label=f'member {m}')
      end = max(end, float(frames[-1]) / 1e6)
    except (FileNotFoundError, ValueError, IndexError):
      pass
    for e in mine:
      if e['event'] == 'exploit':
        axes[0].axvline(e['frames'] / 1e6, color=colour, alpha=0.3, linestyle=':')
    for ax, name in zip(axes[1:], names):
      xs = [e['frames'] / 1e6 for e in mine if name in e['after']]
      ys = [e['after'][name] for e in mine if name in e['after']]
      if xs:
        ax.step(xs + [max(end, xs[-1])], ys + ys[-1:], where='post', color=colour)
  axes[0].set_ylabel('mean return (last 100)')
  axes[0].legend(fontsize=8)
  for ax, name in zip(axes[1:], names):
    ax.set_ylabel(name)
    ax.set_yscale('log')
  for ax in axes:
    ax.grid(alpha=0.3)
  axes[-1].set_xlabel('environment frames (millions); dotted: exploits')
  fig.tight_layout()
  _save(fig, out_path)
  plt.close(fig)
  return out_path
