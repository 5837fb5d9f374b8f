"""The population's shared directory, through tf.io.gfile (a local path, NFS, gs://...).

  <population>/member_<i>/state.json      the member's newest published state:
                                          fitness, frames, episodes,
                                          hyperparameters, time
  <population>/member_<i>/checkpoints/    what another member copies on
                                          exploit (network, optimiser,
                                          hyperparameters): written by the
                                          member, index replaced last
  <population>/member_<i>/heartbeat.json  the member's frames and step, rewritten
                                          every pbt.heartbeat_frames frames: its
                                          modification time says it is alive
  <population>/member_<i>/lineage.jsonl   the member's events, one JSON per line
  <population>/population.json            the current population's size, written
                                          by whoever starts it (pbt_local): members
                                          of an older, larger population in the same
                                          directory are not candidates

Every file has one writer, its member, and is replaced whole (written to a
temporary name, then renamed), so a reader never sees half of one; a
checkpoint is read through its index, which TensorFlow replaces only after
the files it names are complete.
"""

import json
import os
import re
from typing import Dict, List, Optional

import tensorflow as tf

from impala_tf import run_files

STATE_FILE = 'state.json'
HEARTBEAT_FILE = 'heartbeat.json'
LINEAGE_FILE = 'lineage.jsonl'
CHECKPOINTS = 'checkpoints'
POPULATION_FILE = 'population.json'


class Population:
  """Reads and writes one population directory."""

  def __init__(self, directory: str):
    self.directory = directory
    tf.io.gfile.makedirs(directory)

  def member_dir(self, member: int) -> str:
    return os.path.join(self.directory, f'member_{member}')

  def checkpoint_dir(self, member: int) -> str:
    return os.path.join(self.member_dir(member), CHECKPOINTS)

  def members(self) -> List[int]:
    """Members that have published a state, in order."""
    found = []
    for name in tf.io.gfile.listdir(self.directory):
      match = re.fullmatch(r'member_(\d+)/?', name)
      if match and tf.io.gfile.exists(
          os.path.join(self.directory, name.rstrip('/'), STATE_FILE)):
        found.append(int(match.group(1)))
    return sorted(found)

  def write_state(self, member: int, state: Dict):
    tf.io.gfile.makedirs(self.member_dir(member))
    run_files.write_atomically(os.path.join(self.member_dir(member), STATE_FILE),
                               json.dumps(state, sort_keys=True))

  def read_state(self, member: int) -> Optional[Dict]:
    path = os.path.join(self.member_dir(member), STATE_FILE)
    try:
      return json.loads(run_files.read(path))
    except (tf.errors.NotFoundError, ValueError):
      return None

  def write_heartbeat(self, member: int, frames: int, step: int):
    tf.io.gfile.makedirs(self.member_dir(member))
    run_files.write_atomically(os.path.join(self.member_dir(member), HEARTBEAT_FILE),
                               json.dumps({'frames': int(frames), 'step': int(step)}))

  def heartbeat_time(self, member: int) -> Optional[float]:
    """When the member's heartbeat was last written, by the clock of the
    filesystem that holds the directory (its modification time: a local
    disk's, the NFS server's, Cloud Storage's), or None if it has none."""
    try:
      return tf.io.gfile.stat(os.path.join(self.member_dir(member),
                                           HEARTBEAT_FILE)).mtime_nsec / 1e9
    except tf.errors.NotFoundError:
      return None

  def latest_checkpoint(self, member: int) -> Optional[str]:
    """The member's newest complete checkpoint, or None."""
    return tf.train.latest_checkpoint(self.checkpoint_dir(member))

  def write_size(self, size: int):
    """Records the current population's size (members 0..size-1)."""
    run_files.write_atomically(os.path.join(self.directory, POPULATION_FILE),
                               json.dumps({'size': int(size)}))

  def size(self) -> Optional[int]:
    """The current population's size, or None if nobody recorded it."""
    try:
      return int(json.loads(run_files.read(os.path.join(self.directory, POPULATION_FILE)))['size'])
    except (tf.errors.NotFoundError, ValueError, KeyError, TypeError):
      return None

  def append_lineage(self, member: int, event: Dict):
    tf.io.gfile.makedirs(self.member_dir(member))
    path = os.path.join(self.member_dir(member), LINEAGE_FILE)
    old = run_files.read(path) if tf.io.gfile.exists(path) else ''
    run_files.write_atomically(path, old + json.dumps(event, sort_keys=True) + '\n')

  def lineage(self) -> List[Dict]:
    """Every member's events: member by member, each member's in order of
    its frames (its own clock; members on other machines have other wall
    clocks), events at the same frame count in the order they were logged."""
    events = []
    for member in self.members():
      path = os.path.join(self.member_dir(member), LINEAGE_FILE)
      if tf.io.gfile.exists(path):
        events.extend(json.loads(line) for line in run_files.read(path).splitlines()
                      if line.strip())
    return sorted(events, key=lambda e: (e['member'], e['frames']))  # stable
