"""IMPALA (Espeholt et al. 2018) as an agent of the shared loops.

  agent.py       the learner's step (`impala_tf.train_step`, V-trace), the
                 trajectory queue and optional replay, the acting network;
                 Its actors write unrolls of T steps (T+1 observations)
                 with the core's `impala_tf.unroll_adder`;
  validation.py  what a config for IMPALA must hold (synchronous runs, the
                 controlled policy lag).
"""
