"""Batched A2C, synchronous per step: the paper's Table 1 baseline (Fig. 2a).

One process steps every environment of the run (num_actors × envs_per_actor)
in lockstep: one batched forward pass for all of them, then one step of
each, T times; then the learner trains on that batch, and acting resumes
with the new weights. Acting and learning never overlap, and every
environment waits for the slowest at every step. (Our `synchronous=true` is
the other batched A2C of the paper, synchronous per trajectory: actors act
in parallel for a whole unroll, then wait for the update.)

`SyncStepSource` steps them with the actors' `stepping.Stepper`; the learner
reads its batches through a tf.data generator instead of a Reverb queue.
"""

import tensorflow as tf

from impala_tf import stepping
from impala_tf import trajectories


class SyncStepSource:
  """Acts with the learner's current weights, in lockstep; yields batches."""

  def __init__(self, config, read_weights, network_fn):
    """
    Args:
      config: the run's config; all its environments are stepped here.
      read_weights: fn() -> (weight arrays in network.variables order, the
        learner step that made them). Each batch is labelled with that step,
        so its policy lag is what the weights say, also after a resume.
      network_fn: fn(env_spec) -> the unbuilt network to act with.
    """
    self._config = config
    num_envs = config.num_actors * config.envs_per_actor
    # One stepper holding every environment of the run.
    self._stepper = stepping.Stepper(config, 0, 0, network_fn, num_envs=num_envs)
    self._read_weights = read_weights
    self.num_envs = num_envs
    spec = self._stepper.env_spec
    self.signature = trajectories.item_signature(
        trajectories.step_spec(spec, spec.distribution, num_envs,
                               config.lstm_units if config.use_lstm else 0),
        config.unroll_length)

  def batches(self):
    """Endless time-major batches [T+1, num_envs, ...] (numpy dicts)."""
    stepper = self._stepper
    stepper.reset_envs()
    part = stepping.copy_part(stepper.observation_part())
    while True:
      weights, step = self._read_weights()
      stepper.policy.set_weights(weights)
      stepper.weights_version = step
      batch, part = stepper.collect_unroll(part)
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
    return self._stepper.episode_returns

  def close(self):
    self._stepper.close()
