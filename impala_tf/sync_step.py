"""Batched A2C, synchronous per step: the paper's Table 1 baseline (Fig. 2a).

One process steps every environment of the run (num_actors × envs_per_actor)
in lockstep: one batched forward pass for all of them, then one step of
each, T times; then the learner trains on that batch, and acting resumes
with the new weights. Acting and learning never overlap, and every
environment waits for the slowest at every step. (Our `synchronous=true` is
the other batched A2C of the paper, synchronous per trajectory: actors act
in parallel for a whole unroll, then wait for the update.)

`SyncStepSource` reuses the actor's environment bookkeeping and acting step;
the learner reads its batches through a tf.data generator instead of the
Reverb queue (config `architecture='a2c_sync_step'`).
"""

import dataclasses

import numpy as np
import tensorflow as tf

from impala_tf import actor as actor_lib
from impala_tf import trajectories


class SyncStepSource:
  """Acts with the learner's current weights, in lockstep; yields batches."""

  def __init__(self, config, read_weights):
    """
    Args:
      config: the run's config; all its environments are stepped here.
      read_weights: fn() -> (weight arrays in network.variables order, the
        learner step that made them). Each batch is labelled with that step,
        so its policy lag is what the weights say, also after a resume.
    """
    self._config = config
    num_envs = config.num_actors * config.envs_per_actor
    # One "actor" holding every environment of the run; it never connects.
    self._actor = actor_lib.Actor(
        dataclasses.replace(config, envs_per_actor=num_envs, architecture='impala'),
        'unused:0', task=0)
    self._read_weights = read_weights
    self.num_envs = num_envs
    spec = self._actor.env_spec
    self.signature = trajectories.item_signature(
        trajectories.step_spec(spec, spec.distribution, num_envs,
                               config.lstm_units if config.use_lstm else 0),
        config.unroll_length)

  def batches(self):
    """Endless time-major batches [T+1, num_envs, ...] (numpy dicts)."""
    actor = self._actor
    actor._reset_envs()
    part = tf.nest.map_structure(np.array, actor.observation_part())
    while True:
      weights, step = self._read_weights()
      actor.policy.set_weights(weights)
      actor.weights_version = step
      batch, part = actor.collect_unroll(part)
      yield batch

  def dataset(self):
    signature = {name: tf.nest.map_structure(
        lambda s: tf.TensorSpec(s.shape, s.dtype), spec) for name, spec in
                 self.signature.items()}
    dataset = tf.data.Dataset.from_generator(self.batches, output_signature=signature)
    # No batch may be acted ahead of the update before it.
    options = tf.data.Options()
    options.experimental_optimization.apply_default_optimizations = False
    options.autotune.enabled = False
    return dataset.with_options(options)

  @property
  def episode_returns(self):
    return self._actor.episode_returns

  def close(self):
    self._actor.close()
