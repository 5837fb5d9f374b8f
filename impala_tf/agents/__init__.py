"""The agents, one package each, behind one interface (`interface.Agent`).

  impala/         IMPALA: unrolls through a queue, V-trace on the learner
                  (and batched A2C synchronous per trajectory)
  a3c/            the paper's distributed A3C: actors send gradients
  a2c_sync_step/  batched A2C synchronous per step: no actor processes
  r2d2/           R2D2: recurrent Q-learning from prioritised sequence replay

`registry` picks one from `config.architecture` and holds the facts the
shared core needs without importing any agent. This package's own import
loads nothing: the core imports `interface` and `registry` only.
"""
