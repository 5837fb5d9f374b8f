"""Population Based Training (Jaderberg et al. 2017) as IMPALA used it (Appendix F).

  rules.py       the decisions as pure functions: initial samples, readiness,
                 the exploit test, the explore perturbation;
  population.py  the shared directory: each member's published state, its
                 lineage log, finding another member's newest checkpoint;
  member.py      the controller inside a learner: publish, and when ready,
                 exploit and explore.
"""
