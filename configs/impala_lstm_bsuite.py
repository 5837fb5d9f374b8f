"""The IMPALA LSTM agent on bsuite's memory_len/22, the baseline MERLIN is
measured against (docs/merlin.md).

An LSTM fed the previous action and reward, trained through unrolls of 20
steps: no gradient crosses an unroll boundary, so nothing teaches it to hold
the first step's cue for the 100 steps to the question.
configs/impala_lstm_full_bptt_bsuite.py is the third row of the
benchmark: an unroll longer than the 101-step episode (backpropagation
through time over the whole episode).
"""

from impala_tf.config import ImpalaConfig


def get_config() -> ImpalaConfig:
  return ImpalaConfig(
      env_id='bsuite:memory_len/22',
      action_repeat=1,               # a frame is an agent step
      torso='mlp',
      mlp_hidden_sizes=(64,),
      use_lstm=True,
      lstm_units=64,
      unroll_length=20,
      # One actor's unroll (8 environments) per batch, each batch trained
      # twice: four times the updates per frame of 16 unrolls trained once.
      # MERLIN learned memory_len/15 (30 steps) late with the latter (52.8 %
      # right over bsuite's 10,000 episodes) and in time with this (76.8 %);
      # docs/merlin.md.
      batch_size=8,
      num_epochs=2,
      num_actors=2,
      envs_per_actor=8,
      queue_capacity=4,
      discount=0.99,
      entropy_cost=0.01,
      baseline_cost=0.5,
      optimizer='adam',
      learning_rate=1e-3,
      lr_schedule='constant',
      # bsuite's 10,000 episodes of 101 steps, and the episodes in flight.
      total_environment_frames=1_040_000,
  )
