"""make_strategy('tpu') on the hosts a cloud run puts its learner on.

No TPU is here: TPUClusterResolver and the TPU system calls are replaced by
recorders, and the test shows which TPU each environment makes the learner
ask for. On a TPU VM (GKE's TPU node pools, Vertex AI's TPU machines)
TPU_NAME is unset and the documented argument is 'local'; an empty name
makes the real resolver look for TPU_NAME and fail ("Please provide a TPU
Name").
"""

import os
from unittest import mock

from absl.testing import absltest
from absl.testing import parameterized
import tensorflow as tf

from impala_tf import learner


class TpuStrategyTest(parameterized.TestCase):

  @parameterized.named_parameters(
      ('tpu_vm', {}, 'local'),
      ('tpu_vm_empty_name', {'TPU_NAME': ''}, 'local'),
      ('named_tpu', {'TPU_NAME': 'my-tpu-node'}, 'my-tpu-node'),
      ('grpc_address', {'TPU_NAME': 'grpc://10.0.0.2:8470'}, 'grpc://10.0.0.2:8470'),
  )
  def test_resolver_argument(self, environ, expected):
    env = {k: v for k, v in os.environ.items() if k != 'TPU_NAME'}
    env.update(environ)
    resolver = mock.sentinel.resolver
    with mock.patch.dict(os.environ, env, clear=True), \
        mock.patch.object(tf.distribute.cluster_resolver, 'TPUClusterResolver',
                          return_value=resolver) as make_resolver, \
        mock.patch.object(tf.config, 'experimental_connect_to_cluster') as connect, \
        mock.patch.object(tf.tpu.experimental, 'initialize_tpu_system') as initialize, \
        mock.patch.object(tf.distribute, 'TPUStrategy',
                          return_value=mock.sentinel.strategy) as strategy:
      self.assertIs(learner.make_strategy('tpu'), mock.sentinel.strategy)
    make_resolver.assert_called_once_with(tpu=expected)
    connect.assert_called_once_with(resolver)
    initialize.assert_called_once_with(resolver)
    strategy.assert_called_once_with(resolver)

  def test_the_real_resolver_refuses_an_empty_name_without_tpu_name(self):
    # Why '' was wrong: the resolver itself needs a name off Cloud TPU
    # metadata. (On a machine with neither, it raises.)
    env = {k: v for k, v in os.environ.items() if k != 'TPU_NAME'}
    with mock.patch.dict(os.environ, env, clear=True):
      with self.assertRaises((ValueError, RuntimeError)):
        tf.distribute.cluster_resolver.TPUClusterResolver(tpu='')
    self.assertEqual(learner.tpu_address({}), 'local')


if __name__ == '__main__':
  absltest.main()
