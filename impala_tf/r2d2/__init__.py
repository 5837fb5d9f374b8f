"""R2D2 (Kapturowski et al. 2019, "Recurrent Experience Replay in Distributed
Reinforcement Learning") on the same actors, Reverb and learner machinery.

  losses.py     the maths as pure functions over time-major [T, B] tensors:
                value rescaling h and its inverse, n-step double-Q targets,
                the masked loss and the sequence priorities;
  sequences.py  one environment's steps cut into overlapping fixed-length
                sequences that never cross an episode, with the stored state;
  replay.py     the prioritised Reverb table and the priority write-back.

Built so far: these pieces, each tested on its own. Not yet: the actor's
sequence writer over them, the learner step with burn-in and the target
network, the actors' ε ladder, the presets and the agent's choice by preset.
"""
