"""A CartPole population for Population Based Training (binaries/pbt_local.py).

The CartPole preset (configs/cartpole.py), one actor per member, and PBT's
clock scaled to CartPole's short episodes (the paper's 5,000 episodes and
long burn-in are for Atari's long ones): every 10k of its frames a member
publishes and, once past a 50k-frame burn-in with 50 episodes since its last
decision, decides. Fitness is the mean return over those episodes; a member
copies another whose fitness is higher by more than 25 (CartPole returns
run 10-500, so 25 is 5 % of the range, the paper's margin on its capped
scale), and explores at every decision (×1.2 or ÷1.2 with probability
0.33). The search ranges bracket the preset's values.
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
  config.pbt_ready_episodes = 50
  config.pbt_min_episodes = 20
  config.pbt_exploit_margin = 25.0
  config.pbt_interval_frames = 10_000
  return config.validate()
