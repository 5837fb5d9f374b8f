"""MERLIN's config section: `config.merlin` (`--config.merlin.FIELD=VALUE`).

Where the paper (Wayne et al. 2018, Methods) fixes a quantity, the default
is the paper's and the comment says so. The paper's supplementary tables of
sizes and loss weights were not at hand when this was written; fields whose
value is ours say "ours" and docs/merlin.md gives the reason for each. The
policy's LSTM is the shared `lstm_units`; the weight of the return
prediction (the value baseline, the MBP's fourth decoder) is the shared
`baseline_cost`. TensorFlow-free.
"""

import dataclasses
import math

from impala_tf import field_checks

_PREFIX = 'merlin.'


@dataclasses.dataclass
class MerlinConfig:
  """The MERLIN hyperparameters of a run."""

  # |z|: the latent the memory-based predictor (MBP) infers at every step and
  # writes to memory; a memory row holds 2|z| (ours).
  latent_size: int = 32
  # N_mem: rows per environment. Writes go to the least-used row, so an
  # episode longer than this overwrites its least-read latents; size it to
  # the episode (ours: the bsuite presets use the longest episode + 2).
  memory_rows: int = 128
  # K: read heads of the MBP (the paper reads with several; 3 is ours) and of
  # the policy, which reads the same memory with its own keys.
  read_heads: int = 3
  policy_read_heads: int = 1
  # β of a read where its strength unit is 0 (β = 1 + softplus(x + c)):
  # how sharply reads pick rows before training (ours; 1 + softplus(0) =
  # 1.69 is the plain one-plus of a zero input).
  initial_strength: float = 1.0 + math.log(2.0)
  # γ of the retroactive trace v_ret ← γ v_ret + (1 − γ) v_wr (ours).
  retroactive_decay: float = 0.9
  # The MBP's deep LSTM: layers and units per layer (ours).
  mbp_layers: int = 2
  mbp_units: int = 128
  # Hidden units of the prior, posterior and decoder MLPs (ours).
  hidden_size: int = 128
  # The MBP loss: each reconstruction's negative log-likelihood and the KL
  # term, weighted. The paper weights them separately; 1 each is ours.
  observation_cost: float = 1.0
  reward_cost: float = 1.0
  action_cost: float = 1.0
  kl_cost: float = 1.0
  # Bounds of the Gaussians' log standard deviations (numerical safety).
  log_std_min: float = -6.0
  log_std_max: float = 2.0

  def validate(self, error):
    """Raises `error(message)` naming the first invalid field."""
    for name in ('latent_size', 'memory_rows', 'read_heads', 'policy_read_heads',
                 'mbp_layers', 'mbp_units', 'hidden_size'):
      field_checks.positive(self, name, error, prefix=_PREFIX)
    in_range = lambda *args, **kw: field_checks.in_range(self, *args, error=error,
                                                         prefix=_PREFIX, **kw)
    in_range('retroactive_decay', 0.0, 1.0)
    in_range('initial_strength', 1.0, math.inf, low_open=True)
    for name in ('observation_cost', 'reward_cost', 'action_cost', 'kl_cost'):
      in_range(name, 0.0, math.inf)
    if not self.log_std_min < self.log_std_max:
      raise error(f'merlin.log_std_min ({self.log_std_min}) must be below '
                  f'merlin.log_std_max ({self.log_std_max}).')
