"""MERLIN (Wayne et al. 2018, "Unsupervised Predictive Memory in a
Goal-Directed Agent") as an agent of the shared loops (docs/merlin.md).

  memory.py        the memory: content reads, usage, the least-used write and
                   the retroactive write, the reset at an episode's start;
  networks.py      the memory-based predictor (encoder, prior, posterior, deep
                   LSTM, reads, decoders) and the policy (its own LSTM and
                   reads behind stop-gradients), over time with the memory as
                   recurrent state; the MBP's loss terms;
  learner_step.py  the shared V-trace step with the MBP loss added;
  agent.py         the agent: the trajectory queue, items that carry the
                   memory, the acting and exported networks;

The diagonal-Gaussian latent (a reparameterised sample, log-density,
KL(q ‖ p), the mean-latent export) is `impala_tf.agents.latent`, shared
with FTW; the queue path is `impala_tf.agents.state_unrolls`.
  config.py        its section, `config.merlin`;
  validation.py    what a config choosing it must hold.
"""
