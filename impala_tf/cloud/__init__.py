"""Launching a run on a cluster: GKE (Kubernetes objects) and Vertex AI (a CustomJob).

  launch.py      what a cloud run is: the launch options, the accelerator
                 tables, and the command lines of the two roles;
  gke.py         the Kubernetes objects (ConfigMap, learner Job, Service,
                 NetworkPolicy, actors' Indexed Job) as plain dicts;
  vertex.py      the Vertex AI CustomJob body;
  roles.py       inside a container: which role this process plays, and the
                 learner's address, from the platform's environment;
  entrypoint.py  what the image's entrypoint (binaries/cloud_entrypoint.py)
                 starts for a role: the learner or actor binary's command.

Nothing here imports TensorFlow: rendering and role resolution are plain
Python, and the entrypoint replaces itself with the binary it starts.
"""
