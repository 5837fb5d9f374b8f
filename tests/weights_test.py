"""Weight publication through a real Reverb server on loopback."""

import numpy as np
import reverb
import tensorflow as tf

from impala_tf import weights as weights_lib


class WeightsTest(tf.test.TestCase):

  def test_subscriber_fetches_weights_only_when_the_version_changes(self):
    variables = [tf.Variable(np.arange(6, dtype=np.float32).reshape(2, 3)),
                 tf.Variable(np.ones(4, np.float32))]
    server = reverb.Server(weights_lib.weights_tables(variables), port=None)
    client = reverb.Client(f'127.0.0.1:{server.port}')
    publisher = weights_lib.WeightPublisher(client, variables)
    loads = []
    subscriber = weights_lib.WeightSubscriber(client, loads.append)
    try:
      publisher.publish(3)
      self.assertEqual(3, subscriber.fetch())
      self.assertLen(loads, 1)
      self.assertAllEqual(variables[0].numpy(), loads[0][0])
      self.assertAllEqual(variables[1].numpy(), loads[0][1])
      for _ in range(3):   # unchanged: only the version is read
        self.assertEqual(3, subscriber.fetch())
      self.assertLen(loads, 1)
      variables[1].assign(np.full(4, 7.0, np.float32))
      publisher.publish(4)
      self.assertEqual(4, subscriber.fetch())
      self.assertLen(loads, 2)
      self.assertAllEqual(np.full(4, 7.0), loads[1][1])
      info = client.server_info()
      self.assertEqual(1, info[weights_lib.WEIGHTS_TABLE].current_size)
      self.assertEqual(1, info[weights_lib.VERSION_TABLE].current_size)
    finally:
      publisher.close()
      server.stop()

  def test_lag_is_counted_in_steps_not_publications(self):
    variable = tf.Variable(np.zeros(2, np.float32))
    server = reverb.Server(weights_lib.weights_tables([variable]), port=None)
    client = reverb.Client(f'127.0.0.1:{server.port}')
    loads = []
    subscriber = weights_lib.WeightSubscriber(client, loads.append)

    def publish(publisher, step):
      variable.assign(np.full(2, float(step), np.float32))   # the weights "of step"
      publisher.publish(step)
      version = subscriber.fetch()
      # The weights that arrive are the weights of the version they carry.
      self.assertAllEqual(np.full(2, float(version)), loads[-1][0])
      return version

    publisher = weights_lib.WeightPublisher(client, [variable], lag=2)
    try:
      self.assertEqual([0, 0, 0, 1], [publish(publisher, s) for s in range(4)])
      # A second publication at step 3 (a PBT copy) is not a step: still 1.
      self.assertEqual(1, publish(publisher, 3))
      self.assertEqual(2, publish(publisher, 4))
    finally:
      publisher.close()
    # A restarted learner holds nothing older than its resume step: it
    # publishes the oldest it has, labelled truthfully, until the lag is full.
    restarted = weights_lib.WeightPublisher(client, [variable], lag=2)
    try:
      self.assertEqual([10, 10, 10, 11], [publish(restarted, s) for s in range(10, 14)])
    finally:
      restarted.close()
      server.stop()

  def test_mixed_dtypes_rejected(self):
    server = reverb.Server(weights_lib.weights_tables([tf.Variable(np.zeros(2, np.float32))]),
                           port=None)
    try:
      with self.assertRaisesRegex(ValueError, 'one dtype'):
        weights_lib.WeightPublisher(
            reverb.Client(f'127.0.0.1:{server.port}'),
            [tf.Variable(np.zeros(2, np.float32)), tf.Variable(np.zeros(2, np.int32))])
    finally:
      server.stop()


if __name__ == '__main__':
  tf.test.main()
