"""MERLIN (Wayne et al. 2018, "Unsupervised Predictive Memory in a
Goal-Directed Agent"), being built as an agent package (docs/merlin.md).

  memory.py  the memory: content reads, usage, the least-used write and the
             retroactive write, the reset at an episode's start;
  latent.py  the diagonal-Gaussian latent: the prior and posterior's
             parameters, a reparameterised sample, KL(q ‖ p).

Not yet an agent of the registry: the memory-based predictor, the policy and
the adder come next.
"""
