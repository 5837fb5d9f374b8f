"""The IMPALA paper's distributed A3C baseline (Table 1, "A3C") as an agent.

  learning.py  the gradient queue and the learner's step (apply one actor's
               gradient as it arrives);
  adder.py     what an actor writes: the flat gradient of its own unroll;
  agent.py     the agent of the shared loops.
"""
