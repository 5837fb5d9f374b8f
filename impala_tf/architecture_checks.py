"""Validation of which agent a config runs and how its learner is placed.

`ImpalaConfig.validate` calls `validate`: the architecture (an entry of
`agents.registry`, whose refusals and own checks it applies), the policy
lag's type, and XLA's one-device condition. Each refusal is one line naming
the field. TensorFlow-free.
"""

from impala_tf.agents import registry


def validate(config, error):
  """Raises `error(message)` for the first combination that cannot run."""
  lag = config.policy_lag
  if isinstance(lag, bool) or not isinstance(lag, int) or lag < -1:
    raise error(f'policy_lag must be -1 (uncontrolled) or >= 0, got {lag!r}.')
  try:
    registry.info(config.architecture)
  except ValueError as e:
    raise error(str(e)) from None
  if config.jit_compile and config.strategy != 'default':
    raise error("jit_compile=true compiles the learner step on one device: it needs "
                f"strategy='default' (got {config.strategy!r}; the TPU strategy compiles its "
                "replica functions itself).")
  registry.validate(config, error)
