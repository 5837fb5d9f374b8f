"""FTW (Jaderberg et al. 2019, "Human-level performance in 3D multiplayer
games with population-based reinforcement learning"): its agent
(docs/ftw.md). In the registry as `architecture='ftw'`, one player per
environment on the shared loops; the actors that play matches for several
learners come next.

  networks.py      the two-timescale core (a fast LSTM every step, a slow one
                   every τ steps giving the prior of the fast core's latent),
                   the heads and the KL terms;
  learner_step.py  the shared V-trace step with the KL terms added;
  agent.py         the agent: IMPALA's unrolls carrying both cores;
  config.py        its section, `config.ftw`;
  validation.py    what a config choosing it must hold.
"""
