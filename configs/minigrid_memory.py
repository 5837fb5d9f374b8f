"""IMPALA on MiniGrid-MemoryS7-v0: a memory task from Farama's MiniGrid suite.

The agent starts in a room beside an object, walks a corridor, and must
step to whichever of the two objects at its end matches the first one; it
then no longer sees the first. Reward 1 − 0.9·(steps/245) for the right one,
0 for the wrong one. Without memory the best is a guess (half the time).

Observation: MiniGrid's 7×7×3 egocentric view (`observation_key='image'`),
whose entries are object, colour and state codes, so it is fed as numbers
(`observation_dtype='float32'`) to the MLP torso, normalised, then the LSTM
core fed the previous action and reward. The id takes gymnasium's
'module:Id' form, so `minigrid` registers its environments when imported.
The rest follows configs/cartpole_pomdp.py, without its PopArt (added to the
CartPole preset after these runs; rewards here are at most 1, and PopArt
is untried on this task). docs/pomdp.md has the runs.
"""

import dataclasses

from impala_tf_configs import cartpole_pomdp


def get_config():
  return dataclasses.replace(
      cartpole_pomdp.get_config(),
      env_id='minigrid:MiniGrid-MemoryS7-v0',
      hidden_observation_components=(),
      observation_key='image',
      observation_dtype='float32',
      mlp_hidden_sizes=(128, 128),
      lstm_units=128,
      unroll_length=40,
      baseline_cost=0.5,
      popart=False,
      learning_rate=0.002,
      total_environment_frames=2_000_000,
      lr_decay_frames=2_000_000,
  )
