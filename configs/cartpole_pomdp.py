"""CartPole-v1 with its two velocities hidden: a task that needs memory.

CartPole's observation is (cart position, cart velocity, pole angle, pole
angular velocity). Hiding components 1 and 3 leaves the positions only: one
frame no longer tells where the pole is going, so a feed-forward policy
cannot balance it for long, while an LSTM can infer the velocities from
successive positions (the partially observable CartPole of the IMPALA
lecture's POMDP section). `--config.use_lstm=false` gives the memoryless
agent on the same task.

The rest is configs/cartpole.py's set-up, with the LSTM core (fed the
previous action and reward) on, and observation normalisation: a velocity is
a difference of successive positions, about 0.01 per step against a range of
±2.4 (cart) and ±0.2 (pole), and normalising the positions makes those
differences visible to the core. Seed 0, 1M frames: 464 with it, 289 without
it (docs/pomdp.md).

PopArt normalises the value targets. Without it the summed loss's gradient
norm ran at 10^3-10^4 against the clip at 40: 95-100 % of updates clipped, the
value gradient (growing with the return, up to 100 here) set its direction,
and the shared torso and LSTM lost the policy, returns collapsing from ~250
to ~20 mid-run; 6 runs of 12 ended ≥ 400. With PopArt the norm stays near
the clip (median 14-37) and seeds 0-9 ended at 356-494, median 460.5, 9 of
10 ≥ 400 (docs/pomdp.md).
"""

import dataclasses

from impala_tf_configs import cartpole


def get_config():
  return dataclasses.replace(
      cartpole.get_config(),
      hidden_observation_components=(1, 3),
      use_lstm=True,
      lstm_units=64,
      observation_normalization=True,
      popart=True,
      total_environment_frames=1_000_000,
      lr_decay_frames=1_000_000,
  )
