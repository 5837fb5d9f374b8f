"""Pong with the fast Atari preset (configs/atari.py), 8M frames.

README command 1 trains this preset. Its figures (return at 1M, 2M, 4M and
8M frames over 3 seeds, time to +18) are in the README's results.
"""

from impala_tf_configs import atari


def get_config():
  config = atari.get_config()
  config.env_id = 'ALE/Pong-v5'
  config.total_environment_frames = 8_000_000
  return config.validate()
