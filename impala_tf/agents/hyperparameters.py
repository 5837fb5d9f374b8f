"""How an agent declares a hyperparameter PBT may evolve (`Hyperparameter`).

The registry lists each agent's (`registry.AgentInfo.searchable`), so a
config's `pbt` section is checked without TensorFlow; `pbt.rules` draws and
perturbs them. TensorFlow-free.
"""

import dataclasses


@dataclasses.dataclass(frozen=True)
class Hyperparameter:
  """A hyperparameter a PBT population may evolve.

  Attributes:
    name: its name in a PBT member's record and in the learner step's
      `hyperparameter_variables()`.
    kind: 'float', 'integer' or 'vector' (`size` floats, each perturbed on
      its own).
    low, high: the range a new member samples from and perturbations stay in.
    log_scale: sample log-uniformly (True) or uniformly.
    perturb: 'multiply' (× or ÷ PBT's factor, the IMPALA paper's Appendix F)
      or 'resample' (a fresh draw from the range).
    size: entries of a 'vector'.
  """
  name: str
  kind: str = 'float'
  low: float = 0.0
  high: float = 1.0
  log_scale: bool = True
  perturb: str = 'multiply'
  size: int = 1

  KINDS = ('float', 'integer', 'vector')
  PERTURBATIONS = ('multiply', 'resample')

  def __post_init__(self):
    if self.kind not in self.KINDS:
      raise ValueError(f'{self.name}: kind must be one of {self.KINDS}, got {self.kind!r}.')
    if self.perturb not in self.PERTURBATIONS:
      raise ValueError(f'{self.name}: perturb must be one of {self.PERTURBATIONS}, got '
                       f'{self.perturb!r}.')
    if not (self.low <= self.high and (not self.log_scale or self.low > 0)):
      raise ValueError(f'{self.name}: the range ({self.low}, {self.high}) must have low <= '
                       'high, and low > 0 on a log scale.')
    if self.size < 1 or (self.kind != 'vector' and self.size != 1):
      raise ValueError(f'{self.name}: size must be 1, or >= 1 for a vector; got {self.size}.')
