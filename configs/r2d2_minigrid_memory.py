"""R2D2 on MiniGrid-MemoryS7-v0 (the task of configs/minigrid_memory.py).

The observation and network of configs/minigrid_memory.py (the symbolic 7×7×3
view as float32 numbers, an MLP torso, an LSTM of 128) with the R2D2 values of
configs/r2d2_cartpole_pomdp.py, over a 2M-frame budget: episodes last at
most 245 steps and succeed with reward ≤ 1, so sequences of 40 after a
burn-in of 20 cover the corridor walk in a few. No observation normalisation
(R2D2 refuses it: replayed sequences would see other statistics than the
actors did). docs/pomdp.md has the runs.
"""

import dataclasses

from impala_tf_configs import minigrid_memory
from impala_tf_configs import r2d2_cartpole_pomdp


def get_config():
  r2d2 = r2d2_cartpole_pomdp.get_config()
  return dataclasses.replace(
      minigrid_memory.get_config(),
      **{f: getattr(r2d2, f) for f in (
          'architecture', 'observation_normalization', 'batch_size', 'optimizer',
          'learning_rate', 'adam_epsilon', 'discount')},
      unroll_length=r2d2.unroll_length,
      baseline_cost=r2d2.baseline_cost,
      # The CartPole preset's section, with a wider dueling head.
      r2d2=dataclasses.replace(r2d2.r2d2, head_hidden=128))
