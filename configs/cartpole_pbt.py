"""A CartPole population for Population Based Training (binaries/pbt_local.py).

The CartPole preset (configs/cartpole.py), one actor per member, and PBT's
clock scaled to CartPole's short episodes: the paper's 5,000 episodes and
long burn-in are for Atari's long ones. A member is ready after 100
episodes since its last exploit, past a 50k-frame burn-in, and checks every
5 seconds; exploit and explore follow the paper (5 %, ×1.2 or ÷1.2 with
probability 0.33). The search ranges bracket the preset's values.
"""

from impala_tf_configs import cartpole


def get_config():
  config = cartpole.get_config()
  config.num_actors = 1                 # members share two cores
  config.batch_size = 8
  config.envs_per_actor = 8
  config.total_environment_frames = 400_000
  config.lr_decay_frames = 400_000
  config.checkpoint_every_seconds = 30.0
  config.pbt_hyperparameters = ('learning_rate', 'entropy_cost')
  config.pbt_learning_rate_range = (1e-4, 2e-2)
  config.pbt_entropy_cost_range = (1e-3, 3e-2)
  config.pbt_burn_in_frames = 50_000
  config.pbt_ready_episodes = 100
  config.pbt_interval_seconds = 5.0
  return config.validate()
