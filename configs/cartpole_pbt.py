"""A CartPole population for Population Based Training (binaries/pbt_local.py).

The CartPole preset (configs/cartpole.py), one actor per member, and PBT's
clock scaled to CartPole's short episodes (the paper's 5,000 episodes and
long burn-in are for Atari's long ones): every 10k of its frames a member
publishes and, once past a 50k-frame burn-in with 50 episodes since its last
decision, decides. Fitness is the mean return over those episodes; a member
copies another whose fitness is higher by more than 25 (CartPole returns
run 10-500, so 25 is 5 % of the range, the paper's margin on its capped
scale), and explores at every decision (×1.2 or ÷1.2 with probability
0.33).

The search ranges bracket the preset's values. The learning rate's starts
at half the tuned 0.004: a population in CI drifted to 0.0010-0.0014 (rates
that looked best over one early window) and, with the rate decaying to 0
over 400k frames, ended at 434-444, where 0.002 alone reaches 425 by 300k.
It stops at 1.5× the tuned 0.004: PBT's selection is greedy (a rate that learns
faster over the next window wins it), and on CartPole a high rate learns
fast early and then stalls. Alone, this preset's member reached 497, 486
and 480 (seeds 0-2) at lr 0.004 but 274 and 451 (seeds 0-1) at 0.012; with
the range up to 0.02, populations drifted there and ended between 214 and
252 (a CI run and one of this session's; docs/pbt.md).

The entropy cost (each member's, as PBT sets it) decays linearly to 0 over
the run, with the learning rate: a policy still sampling with the full
bonus at the end fails some episodes, and fitness is measured on sampled
episodes. Alone (seeds 0-2, synchronous): 500, 495 and 500 with the decay,
466, 500 and 472 without (docs/pbt.md).
"""

from impala_tf_configs import cartpole


def get_config():
  config = cartpole.get_config()
  config.num_actors = 1                 # members share two cores
  config.batch_size = 8
  config.envs_per_actor = 8
  # Each actor waits for the update that consumes its unroll (zero policy
  # lag), so what a member learns per frame does not depend on how fast its
  # actor runs next to the learner, and a busy core does not change it.
  config.synchronous = True
  config.total_environment_frames = 400_000
  config.lr_decay_frames = 400_000
  config.entropy_schedule = 'linear'
  config.entropy_end_factor = 0.0
  config.checkpoint_every_seconds = 30.0
  config.pbt.hyperparameters = ('learning_rate', 'entropy_cost')
  config.pbt.ranges = (('learning_rate', 2e-3, 6e-3), ('entropy_cost', 1e-3, 3e-2))
  config.pbt.burn_in_frames = 50_000
  config.pbt.ready_episodes = 50
  config.pbt.min_episodes = 20
  config.pbt.exploit_margin = 25.0
  config.pbt.interval_frames = 10_000
  return config.validate()
