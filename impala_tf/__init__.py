"""impala_tf: IMPALA and V-trace for TensorFlow 2 / Keras, on Reverb."""

from impala_tf import atari_scores
from impala_tf import distributions
from impala_tf import losses
from impala_tf import popart
from impala_tf import vtrace
from impala_tf.actor import Actor
from impala_tf.actor import run_actor
from impala_tf.checkpoints import CheckpointError
from impala_tf.config import ConfigError
from impala_tf.config import ImpalaConfig
from impala_tf.config import load_config_file
from impala_tf.environments import make_env
from impala_tf.evaluation import evaluate
from impala_tf.export import export_from_checkpoint
from impala_tf.export import export_policy
from impala_tf.export import ImpalaPolicy
from impala_tf.export import SavedModelError
from impala_tf.graph_policy import GraphPolicy
from impala_tf.launcher import LocalLauncher
from impala_tf.learner import Learner
from impala_tf.learner import run_learner
from impala_tf.networks import ImpalaNetwork
from impala_tf.networks import make_network
from impala_tf.networks import NetworkInput
from impala_tf.networks import NetworkOutput
from impala_tf.optimizers import Adam
from impala_tf.optimizers import make_optimizer
from impala_tf.optimizers import RMSProp
from impala_tf.train_step import TrainStep

__all__ = [
    'Actor',
    'Adam',
    'CheckpointError',
    'GraphPolicy',
    'ConfigError',
    'ImpalaConfig',
    'ImpalaNetwork',
    'ImpalaPolicy',
    'Learner',
    'LocalLauncher',
    'NetworkInput',
    'NetworkOutput',
    'RMSProp',
    'TrainStep',
    'SavedModelError',
    'distributions',
    'evaluate',
    'export_from_checkpoint',
    'export_policy',
    'load_config_file',
    'atari_scores',
    'losses',
    'make_env',
    'make_network',
    'make_optimizer',
    'popart',
    'run_actor',
    'run_learner',
    'vtrace',
]
