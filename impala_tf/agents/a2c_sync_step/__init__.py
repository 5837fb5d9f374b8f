"""Batched A2C synchronous per step, the IMPALA paper's Table 1 baseline
(Fig. 2a), as an agent that runs no actor processes.

  source.py      the learner's own source: every environment stepped in
                 lockstep, one batched forward pass per step;
  agent.py       the agent of the shared loops (the V-trace step on-policy);
  validation.py  what a config for it must hold.
"""
