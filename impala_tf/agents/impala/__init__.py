"""IMPALA (Espeholt et al. 2018) as an agent of the shared loops.

  agent.py       the learner's step (`impala_tf.train_step`, V-trace), the
                 trajectory queue and optional replay, the acting network;
  adder.py       what an actor writes: unrolls of T steps, T+1 observations;
  validation.py  what a config for IMPALA must hold (synchronous runs, the
                 controlled policy lag).
"""
