"""impala_tf: IMPALA and V-trace for TensorFlow 2 / Keras."""

from impala_tf import distributions
from impala_tf import losses
from impala_tf import vtrace
from impala_tf.config import ConfigError
from impala_tf.config import ImpalaConfig
from impala_tf.networks import ImpalaNetwork
from impala_tf.networks import make_network
from impala_tf.networks import NetworkInput
from impala_tf.networks import NetworkOutput
from impala_tf.optimizers import make_optimizer
from impala_tf.optimizers import PaperRMSprop

__all__ = [
    'ConfigError',
    'ImpalaConfig',
    'ImpalaNetwork',
    'NetworkInput',
    'NetworkOutput',
    'PaperRMSprop',
    'distributions',
    'losses',
    'make_network',
    'make_optimizer',
    'vtrace',
]
