"""One agent, three Atari games: the multi-task PopArt preset.

Pong, Breakout and Space Invaders with one shared policy over the full
18-action set, one baseline output and one PopArt statistic per game, and
the games' own rewards, unclipped (Hessel et al. 2019: PopArt instead of
reward clipping). Actor i plays game i % 3. Observations are normalised
with each game's own statistics (observation_normalization_per_task, on by
default). Everything else is the fast Atari preset (configs/atari.py). The
budget, 12M frames, is 4M per game; docs/multitask_popart.md reports 6M-frame
runs of it (about 2M per game) against single-task runs of the same frames
per game, and what each lever costs.
"""

from impala_tf_configs import atari


def get_config():
  config = atari.get_config()
  config.tasks = ('ALE/Pong-v5', 'ALE/Breakout-v5', 'ALE/SpaceInvaders-v5')
  config.env_id = config.tasks[0]
  config.full_action_space = True    # one policy head for every game
  config.popart = True
  config.reward_clipping = 'none'    # PopArt makes the scales comparable
  config.num_actors = 3              # one per game
  config.batch_size = 48             # one unroll of 16 envs per game, on average
  config.queue_capacity = 3
  config.total_environment_frames = 12_000_000
  config.lr_decay_frames = 12_000_000
  return config.validate()
