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
  exploration.py  the actors' ε ladder and ε-greedy actions.

Built so far: these pieces, each tested on its own. Not yet: the actor's
sequence writer over them, the compiled learner step with
its optimiser and priority write-back in the learner loop, the presets and
the agent's choice by preset.
"""
