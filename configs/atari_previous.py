"""The Atari preset as it was before the learning-efficiency work (issue 9).

Kept so that docs/results.md's comparison of the old and the new default can be
rerun: the paper's shallow network and Table G.1's batch, unroll, entropy and
learning rate, with RMSProp ε = 1e-5 (inside the root, mean square starting
at 1), the loss summed, one update per batch, and the learning rate decayed
linearly to 0 over the run's frame budget, here the comparison's 10M frames
(the old preset decayed over whatever budget it was given: pass
--config.lr_decay_frames=<total_environment_frames> with another budget).
Use `configs/atari.py` for anything else.
"""

from impala_tf.config import ImpalaConfig


def get_config() -> ImpalaConfig:
  return ImpalaConfig(
      env_id='ALE/Pong-v5',
      action_repeat=4,
      frame_stack=4,
      noop_max=30,
      sticky_action_probability=0.0,
      torso='shallow',
      use_lstm=False,
      unroll_length=20,
      batch_size=32,
      num_actors=2,
      envs_per_actor=16,
      discount=0.99,
      entropy_cost=0.01,
      baseline_cost=0.5,
      learning_rate=0.0006,
      rmsprop_decay=0.99,
      rmsprop_epsilon=1e-5,
      rmsprop_momentum=0.0,
      rmsprop_epsilon_inside_sqrt=True,
      rmsprop_initial_mean_square=1.0,
      grad_clip_norm=40.0,
      reward_clipping='abs_one',
      lr_schedule='linear',
      lr_decay_frames=10_000_000,
      total_environment_frames=10_000_000,
  )
