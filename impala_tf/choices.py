"""The values the config's choice fields take.

Kept apart from the modules that implement them (losses, optimizers,
networks) so that `impala_tf.config`, and a binary that only validates its
flags, load without TensorFlow.
"""

CORRECTIONS = ('vtrace', 'one_step_is', 'epsilon_correction', 'no_correction')
REWARD_CLIPPINGS = ('abs_one', 'soft_asymmetric', 'none')
OPTIMIZERS = ('rmsprop', 'adam')
SCHEDULES = ('constant', 'linear', 'cosine')
TORSOS = ('mlp', 'shallow', 'nature', 'resnet')
INITIALIZERS = ('glorot_uniform', 'orthogonal')
LOSS_REDUCTIONS = ('sum', 'mean')
STRATEGIES = ('default', 'mirrored', 'tpu')
# The file each run writes its progress to, in its logdir (the learner
# writes it, the launcher and benchmarks read it).
STATUS_FILE = 'status.json'
