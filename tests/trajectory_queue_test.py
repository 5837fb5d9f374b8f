"""The learner's input pipeline against a real Reverb server: what replay may replay."""

import numpy as np
import reverb
import tensorflow as tf

from impala_tf import config as config_lib
from impala_tf import environments
from impala_tf import trajectories
from impala_tf import trajectory_queue


class ReplayTest(tf.test.TestCase):

  def test_only_unrolls_already_taken_are_replayed_after_warmup(self):
    # 2 unrolls a batch: 1 fresh, 1 replayed; replay warm-up 3 unrolls.
    config = config_lib.ImpalaConfig(
        env_id='CartPole-v1', torso='mlp', unroll_length=3, envs_per_actor=2, batch_size=4,
        replay_fraction=0.5, replay_capacity=20, replay_min_size=3, queue_capacity=40,
        prefetch_batches=1)
    spec = environments.env_spec(config)
    signature = trajectories.item_signature(
        trajectories.step_spec(spec, spec.distribution, config.envs_per_actor),
        config.unroll_length)
    server = reverb.Server(trajectory_queue.tables(config, signature), port=None)
    address = f'127.0.0.1:{server.port}'
    client = reverb.Client(address)
    try:
      # 12 unrolls in the queue, each tagged with its index (weights_version).
      rng = np.random.default_rng(0)
      for index in range(12):
        item = tf.nest.map_structure(
            lambda s: rng.normal(size=s.shape).astype(s.dtype.as_numpy_dtype)
            if s.dtype.is_floating else np.zeros(s.shape, s.dtype.as_numpy_dtype), signature)
        item['weights_version'][:] = index
        with client.trajectory_writer(num_keep_alive_refs=config.unroll_length + 1) as writer:
          for t in range(config.unroll_length + 1):
            writer.append({k: v[t] for k, v in item.items()
                           if t < config.unroll_length or k not in trajectories.ACTION_COLUMNS},
                          partial_step=t == config.unroll_length)
          writer.create_item(trajectory_queue.TRAJECTORY_TABLE, 1.0,
                             trajectories.item_columns(writer.history, config.unroll_length))
          writer.flush()
      dataset = trajectory_queue.make_dataset(address, config, signature=signature)
      iterator = iter(dataset)
      taken = []
      for b in range(10):
        batch = next(iterator)
        versions = batch['weights_version'].numpy()[0]       # [B]: fresh E, then replayed E
        fresh, replayed = int(versions[0]), versions[2:]
        self.assertTrue(np.all(versions[:2] == fresh))
        taken.append(fresh)
        self.assertEqual(b, fresh)                           # the queue's FIFO order
        last = batch['last'].numpy()
        if b < 3:
          # Warm-up: the replayed share is a placeholder the loss masks out.
          self.assertTrue(np.all(last[:, 2:]), b)
        else:
          self.assertFalse(np.all(last[:, 2:]), b)
          # Replayed: an unroll an earlier batch took, never this batch's own.
          self.assertIn(int(replayed[0]), taken[:-1], (b, replayed))
        self.assertFalse(np.any(last[:, :2]))
      # Exactly the unrolls taken so far are in the replay table (the last
      # one when its batch was taken: not before).
      self.assertEqual(10, client.server_info()[trajectory_queue.REPLAY_TABLE].current_size)
    finally:
      server.stop()


if __name__ == '__main__':
  tf.test.main()
