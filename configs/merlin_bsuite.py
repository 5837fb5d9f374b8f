"""MERLIN on bsuite's memory_len/22: a cue at the first step, the question
100 steps later (docs/merlin.md).

The shared settings (unroll length, actors, environments, batch, optimiser,
budget) are those of configs/impala_lstm_bsuite.py, so the two rows of the
benchmark differ only in the agent: an unroll of 20 steps, which truncates
backpropagation through a 101-step episode. `benchmarks/bsuite_memory.py`
sets env_id per setting and the frame budget to bsuite's 10,000 episodes.
The memory holds 104 rows: a 101-step episode writes 102 latents (its
terminal observation included), so nothing of an episode is overwritten.
"""

from impala_tf import config as config_lib
from impala_tf_configs import impala_lstm_bsuite


def get_config():
  return config_lib.replace(
      impala_lstm_bsuite.get_config(),
      architecture='merlin',
      merlin=dict(latent_size=16, memory_rows=104, read_heads=3, mbp_layers=1, mbp_units=64,
                  hidden_size=64,
                  # Four policy reads, each starting at strength 5: on
                  # memory_len/15 (30 steps, seed 0) MERLIN learned by
                  # episode 2,000 with them, by 4,500 with one read at
                  # 1.69 (docs/merlin.md).
                  policy_read_heads=4, initial_strength=5.0,
                  # KL(q ‖ p) at 0.1: at 1 the posterior collapses onto the
                  # prior and z drops the cue (docs/merlin.md).
                  kl_cost=0.1),
  )
