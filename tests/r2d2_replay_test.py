"""The prioritised sequence table on a real Reverb server."""

import collections

import numpy as np
import reverb
import tensorflow as tf

from impala_tf.agents.r2d2 import replay


class ReplayTest(tf.test.TestCase):

  def test_updated_priorities_change_what_is_sampled(self):
    signature = {'id': tf.TensorSpec([], tf.int64)}
    server = reverb.Server([replay.table(signature, capacity=10, min_size=1,
                                         samples_per_insert=1000.0, error_buffer=1e6)])
    try:
      client = reverb.Client(f'127.0.0.1:{server.port}')
      for i in range(4):
        client.insert({'id': np.int64(i)}, priorities={replay.SEQUENCE_TABLE: 1.0})

      def sample_counts(n):
        counts = collections.Counter()
        keys = {}
        for item in client.sample(replay.SEQUENCE_TABLE, num_samples=n, emit_timesteps=False,
                                   unpack_as_table_signature=True):
          counts[int(item.data['id'])] += 1
          keys[int(item.data['id'])] = item.info.key
        return counts, keys

      counts, keys = sample_counts(400)
      # Equal priorities: each of the 4 about a quarter (binomial sd ≈ 8.7).
      self.assertTrue(all(60 < counts[i] < 140 for i in range(4)), counts)
      # Sequence 2 becomes 100× as likely as each other one (α = 0.9:
      # 100^0.9 ≈ 63 times the others' weight).
      replay.update_priorities(client, [keys[2]], [100.0])
      counts, _ = sample_counts(400)
      self.assertGreater(counts[2], 330, counts)
    finally:
      server.stop()

  def test_capacity_below_min_size_is_refused(self):
    with self.assertRaisesRegex(ValueError, 'capacity'):
      replay.table({'id': tf.TensorSpec([], tf.int64)}, capacity=10, min_size=100)


if __name__ == '__main__':
  tf.test.main()
