"""The exit statuses of the binaries, and what each tells a cluster.

A platform that restarts failed processes (Kubernetes Jobs, Vertex AI) must
not restart one whose failure a restart cannot mend; the GKE manifests turn
these codes into pod failure policy rules (impala_tf/cloud/gke.py).
"""

OK = 0
# A mistake in how the process was started: an unknown flag or field, an
# invalid value, a config that differs from the learner's. The same command
# fails the same way again.
USAGE = 2
# An actor found no learner for `actor_learner_timeout_seconds`, and the
# run's status file does not say the run finished.
LEARNER_GONE = 3
# The learner received no data for `learner_data_timeout_seconds`: no actor
# is writing, so it gives its accelerator back instead of holding it.
NO_DATA = 4

# Failures a restart of the same process cannot mend.
PERMANENT = (USAGE, LEARNER_GONE, NO_DATA)
