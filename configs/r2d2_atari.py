"""R2D2 at the paper's scale: the large-scale preset (Kapturowski et al. 2019).

  --config.env_id=ALE/<Game>-v5 picks the game.

Every value is the paper's (its Tables 2 and 3), for a cluster: 256 actors
each with one environment (actor i's ε = 0.4^(1 + 7 i / 255)), the DQN conv
torso, an LSTM of 512 fed the previous action and reward, a dueling head of
512; sequences of 80 steps after a burn-in of 40, a new one every 40; replay
of 100k sequences (4M steps, each stored once), priority exponent 0.9 and
η = 0.9; n = 5, γ = 0.997, value rescaling with ε = 1e-3 instead of reward
clipping; the target network copied every 2,500 updates; Adam 1e-4 with ε
1e-3; batches of 64. Atari as the paper: 4 stacked frames, frame skip 4 with
max-pooling, up to 30 no-ops, no sticky actions, the full 18-action set, a
lost life not terminal, 30-minute episodes.

Prioritised replay's importance weights use the exponent 0.6 of the paper's
appendix table (as Acme does; the config's default is 0, no correction). The
loss sums each sequence's terms over time and averages over the batch (the
paper does not say; Acme and seed_rl do this, docs/r2d2.md). The replay ratio
(samples per insert, 1.0 here) is set by the learner's speed in the paper,
not fixed; Reverb's rate limiter holds it here. This preset is not run on a
two-core machine (configs/r2d2_pong.py is the one scaled to it).
"""

from impala_tf.config import ImpalaConfig


def get_config() -> ImpalaConfig:
  return ImpalaConfig(
      architecture='r2d2',
      env_id='ALE/Pong-v5',
      action_repeat=4,
      frame_stack=4,
      noop_max=30,
      sticky_action_probability=0.0,
      full_action_space=True,
      episodic_life=False,
      max_episode_frames=108_000,
      reward_clipping='none',
      torso='nature',
      torso_output_size=512,
      use_lstm=True,
      lstm_units=512,
      num_actors=256,
      envs_per_actor=1,
      batch_size=64,
      optimizer='adam',
      learning_rate=1e-4,
      adam_epsilon=1e-3,
      lr_schedule='constant',
      discount=0.997,
      total_environment_frames=10_000_000_000,
      # --config.r2d2.FIELD=VALUE (impala_tf/agents/r2d2/config.py).
      r2d2=dict(
          head_hidden=512,
          sequence_length=80,
          burn_in=40,
          sequence_period=40,
          n_step=5,
          target_period=2500,
          value_rescaling_epsilon=1e-3,
          priority_eta=0.9,
          priority_exponent=0.9,
          importance_sampling_exponent=0.6,
          loss_reduction='sum_over_time',
          replay_capacity=100_000,
          replay_min_size=5_000,
          samples_per_insert=1.0,
          epsilon_base=0.4,
          epsilon_alpha=7.0,
      ),
  )
