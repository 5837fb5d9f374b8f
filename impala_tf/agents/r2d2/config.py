"""R2D2's config section: `config.r2d2` (`--config.r2d2.FIELD=VALUE`).

Defaults are the paper's (Kapturowski et al. 2019, Table 2). The shared
fields R2D2 reads keep IMPALA's defaults in `ImpalaConfig`, and an R2D2
preset sets the paper's values for them (discount 0.997, optimizer adam at
1e-4 with adam_epsilon 1e-3, lstm_units 512, batch_size 64). TensorFlow-free.
"""

import dataclasses
import math

from impala_tf import field_checks

_PREFIX = 'r2d2.'
# `loss_reduction`: each sequence's terms summed over its steps and averaged
# over the batch (Acme's and seed_rl's R2D2), or averaged over every trained
# step (about T − n times smaller).
LOSS_REDUCTIONS = ('sum_over_time', 'mean')


@dataclasses.dataclass
class R2D2Config:
  """The R2D2 hyperparameters of a run."""

  # Replay sequences: burn_in steps (no gradient) then sequence_length
  # trained steps; a new sequence every sequence_period steps (80 − 40:
  # adjacent ones overlap by 40).
  sequence_length: int = 80
  sequence_period: int = 40
  burn_in: int = 40
  n_step: int = 5
  target_period: int = 2500          # learner updates between target copies
  value_rescaling_epsilon: float = 1e-3
  priority_eta: float = 0.9          # p = η max|δ| + (1 − η) mean|δ|
  priority_exponent: float = 0.9
  # A new sequence's priority: the TD errors of the Q values its actor acted
  # with (Ape-X's actors, which R2D2's follow), or a constant 1.0 (False).
  actor_priorities: bool = True
  # How the loss reduces its per-step terms (LOSS_REDUCTIONS). The paper
  # does not say; its peers sum over time, and with Adam's ε of 1e-3 the
  # mean's gradients are small enough for ε to matter (docs/r2d2.md has the
  # side-by-side runs).
  loss_reduction: str = 'sum_over_time'
  # β of prioritised replay's importance weights (0: none). The paper's
  # appendix table gives 0.6 (Acme uses it), which the Atari presets set
  # (configs/r2d2_atari.py, r2d2_pong.py); the default stays 0, as in the
  # small presets, whose runs were measured without it.
  importance_sampling_exponent: float = 0.0
  # Sequences held: 100k × 40 new steps each, the paper's 4M observations.
  replay_capacity: int = 100_000
  replay_min_size: int = 5000        # sequences before the first sample
  # Replay ratio held by Reverb's SampleToInsertRatio: sequences sampled per
  # sequence inserted.
  samples_per_insert: float = 1.0
  # Environment i of the run's N = num_actors × envs_per_actor explores with
  # ε_i = base^(1 + alpha·i/(N − 1)) (exploration.environment_epsilons).
  epsilon_base: float = 0.4
  epsilon_alpha: float = 7.0
  head_hidden: int = 512             # each stream of the dueling head

  def validate(self, error):
    """Raises `error(message)` naming the first invalid field (whichever
    agent runs: a bad value is wrong anyway)."""
    for name in ('sequence_length', 'sequence_period', 'n_step', 'target_period',
                 'replay_capacity', 'replay_min_size', 'head_hidden'):
      field_checks.positive(self, name, error, prefix=_PREFIX)
    field_checks.non_negative_integer(self, 'burn_in', error, prefix=_PREFIX)
    in_range = lambda *args, **kw: field_checks.in_range(self, *args, error=error,
                                                         prefix=_PREFIX, **kw)
    in_range('value_rescaling_epsilon', 0.0, 1.0)
    in_range('priority_eta', 0.0, 1.0)
    in_range('priority_exponent', 0.0, math.inf)
    in_range('importance_sampling_exponent', 0.0, 1.0)
    in_range('samples_per_insert', 0.0, math.inf, low_open=True)
    in_range('epsilon_base', 0.0, 1.0)
    in_range('epsilon_alpha', 0.0, math.inf)
    field_checks.one_of(self, 'loss_reduction', LOSS_REDUCTIONS, error, prefix=_PREFIX)
    if not isinstance(self.actor_priorities, bool):
      raise error(f'r2d2.actor_priorities must be true or false, got '
                  f'{self.actor_priorities!r}.')
    if self.n_step >= self.sequence_length:
      raise error(f'r2d2.n_step ({self.n_step}) must be below r2d2.sequence_length '
                  f'({self.sequence_length}): a trained step needs the state n steps on '
                  'in its sequence.')
    # A sequence trains its first sequence_length − n_step positions after
    # the burn-in (the rest bootstrap them, unless the episode ends there);
    # the next starts sequence_period steps on, so a longer period leaves
    # steps between them that no sequence trains.
    if self.sequence_period > self.sequence_length - self.n_step:
      raise error(f'r2d2.sequence_period ({self.sequence_period}) must be at most '
                  f'r2d2.sequence_length − r2d2.n_step ({self.sequence_length} − '
                  f'{self.n_step} = {self.sequence_length - self.n_step}): a sequence trains '
                  'its first sequence_length − n_step steps, and a longer period leaves '
                  'steps that no sequence trains.')
