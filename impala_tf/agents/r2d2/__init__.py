"""R2D2 (Kapturowski et al. 2019, "Recurrent Experience Replay in Distributed
Reinforcement Learning") on the same actors, Reverb and learner machinery.

  losses.py     the maths as pure functions over time-major [T, B] tensors:
                value rescaling h and its inverse, n-step double-Q targets,
                the masked loss and the sequence priorities;
  sequences.py  one environment's steps cut into overlapping fixed-length
                sequences that never cross an episode, with the stored state;
  replay.py     the prioritised Reverb table and the priority write-back;
  networks.py   the recurrent Q network: IMPALA's torso and LSTM core
                (`impala_tf.networks`), a dueling head;
  learning.py   burn-in from the stored state, the sequence loss, the
                target network's schedule;
  exploration.py  the actors' ε ladder and the in-graph ε-greedy distribution;
  progress.py   the actors' frames and finished episodes, reported apart
                from replay;
  learner_step.py  the compiled update and the priority write-back;
  agent.py      R2D2 as an agent of the shared loops (`impala_tf.agents`):
                its tables, input, acting and the actors' sequence sender;
  validation.py  the R2D2 config fields, and what an R2D2 run refuses.

A preset chooses R2D2 with architecture='r2d2' (docs/r2d2.md).
"""
