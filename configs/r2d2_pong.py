"""R2D2 on Pong, scaled to a two-core machine (from configs/r2d2_atari.py).

Changed from the paper's values, each for the two cores: 2 actors × 16
environments (32 ε's on the ladder instead of 256); IMPALA's shallow torso
with 256 features, an LSTM of 256 and dueling streams of 256 (conv torso,
512, 512); sequences of 40 after a burn-in of 20, a new one every 20 (80, 40,
40); batches of 32 (64); replay of 10k sequences (200k steps, each stored
once; 4M in the paper) from 2,000; a target copy every 1,000 updates (2,500); the game's
minimal action set (the full 18). docs/r2d2.md has what it reaches and what
limits it (updates per second, the replay ratio).
"""

from impala_tf import config as config_lib
from impala_tf_configs import r2d2_atari


def get_config():
  return config_lib.replace(
      r2d2_atari.get_config(),
      env_id='ALE/Pong-v5',
      full_action_space=False,
      num_actors=2,
      envs_per_actor=16,
      torso='shallow',
      torso_output_size=256,
      lstm_units=256,
      batch_size=32,
      total_environment_frames=10_000_000,
      # Changes to r2d2_atari's section; the rest stays the paper's.
      r2d2=dict(
          head_hidden=256,
          sequence_length=40,
          burn_in=20,
          sequence_period=20,
          target_period=1000,
          replay_capacity=10_000,
          replay_min_size=2_000,
      ),
  )
