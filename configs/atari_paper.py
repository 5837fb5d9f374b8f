"""Atari exactly as paper Table G.1 gives it: the reproduction preset.

Espeholt et al. 2018, Table G.1 (Atari), with the optimiser as the paper's
TF1 implementation had it: RMSProp with ε = 0.01 added inside the square
root and the mean square starting at 1, and the loss summed (not averaged)
over time and batch. The learning rate decays linearly to 0 over the
paper's 200M-frame training run, whatever --config.total_environment_frames
says, so a shorter run sees the start of the paper's schedule.

This preset learns slowly on a two-core machine (see docs/paper.md);
`configs/atari.py` is the fast default. Any game:
--config.env_id=ALE/<Game>-v5.
"""

from impala_tf.config import ImpalaConfig


def get_config() -> ImpalaConfig:
  return ImpalaConfig(
      env_id='ALE/Pong-v5',
      action_repeat=4,               # frame skip 4 with max-pooling (Mnih 2015)
      frame_stack=4,                 # 4 stacked 84×84 grayscale frames
      noop_max=30,                   # up to 30 no-ops at episode start
      episodic_life=True,            # Table G.1: a lost life ends the episode for learning
      sticky_action_probability=0.0,  # as the paper
      torso='shallow',               # paper Fig. 3, left (Table 1's Atari runs)
      use_lstm=False,
      initializer='glorot_uniform',
      unroll_length=20,              # Table G.1
      batch_size=32,                 # Table G.1
      num_actors=2,
      envs_per_actor=16,
      discount=0.99,                 # Table G.1
      entropy_cost=0.01,             # Table G.1
      baseline_cost=0.5,             # Table G.1 ("baseline loss scaling")
      reward_clipping='abs_one',     # Table G.1
      correction='vtrace',
      clip_rho_threshold=1.0,        # ρ̄ = c̄ = 1 (paper §4)
      clip_pg_rho_threshold=1.0,
      clip_c_threshold=1.0,
      vtrace_lambda=1.0,
      loss_reduction='sum',          # the paper's implementation sums
      optimizer='rmsprop',
      learning_rate=0.0006,          # Table G.1
      rmsprop_decay=0.99,            # Table G.1
      rmsprop_epsilon=0.01,          # Table G.1
      rmsprop_momentum=0.0,          # Table G.1
      rmsprop_epsilon_inside_sqrt=True,   # TF1's RMSPropOptimizer
      rmsprop_initial_mean_square=1.0,    # TF1's RMSPropOptimizer
      lr_schedule='linear',          # Table G.1: linear decay to 0 ...
      lr_decay_frames=200_000_000,   # ... over the paper's 200M frames
      grad_clip_norm=40.0,           # Table G.1
      num_epochs=1,
      num_minibatches=1,
      total_environment_frames=200_000_000,
  )
