# The images of a cloud run (GKE and Vertex AI), built from one file.
#
#   docker build -t REGION-docker.pkg.dev/PROJECT/REPO/impala-tf-cpu:TAG .   # actors (the default)
#   docker build --build-arg ACCELERATOR=gpu -t .../impala-tf-gpu:TAG .     # learner on NVIDIA GPUs
#   docker build --build-arg ACCELERATOR=tpu -t .../impala-tf-tpu:TAG .     # learner on a Cloud TPU VM
#
# Actors run on CPUs: give them the CPU image (launch_cloud.py --actor_image), so
# 64 actor pods do not each pull CUDA's libraries. The entrypoint reads the pod's
# role (learner or actor), its index and the learner's address from the platform's
# environment (impala_tf/cloud/roles.py) and becomes the learner or actor binaries.
# docs/cloud.md says how to use it.
#
# The base is pinned by digest, so a rebuild gets the same system. The digest is
# python:3.11-slim-bookworm's as published on Docker Hub; no registry is reachable
# from this repository's machines, so refresh it with
#   docker buildx imagetools inspect python:3.11-slim-bookworm
# and update it here and in tests/dockerfile_test.py's expectation together.
FROM python:3.11-slim-bookworm@sha256:a36c24f9cbdf4fd0f52d67f0823eeac19c2028c637cecc392d97f980d4fec56b

ARG ACCELERATOR=cpu

WORKDIR /opt/impala_tf
# Dependencies first, from the pinned closure without its test tools (pytest,
# kubernetes-validate and what only they need), so code changes reuse this layer.
COPY requirements.txt setup.py ./
RUN grep -v -i -E '^(pytest|pytest-timeout|pluggy|iniconfig|Pygments|kubernetes-validate|jsonschema|jsonschema-specifications|referencing|rpds-py)==' \
        requirements.txt > /tmp/runtime-requirements.txt \
    && pip install --no-cache-dir -r /tmp/runtime-requirements.txt \
    && rm /tmp/runtime-requirements.txt
# GPU: TensorFlow with its CUDA libraries from PyPI. TPU: the TF 2.15 TPU wheel and
# libtpu from the find-links page Google documents for TensorFlow on Cloud TPU VMs.
RUN if [ "$ACCELERATOR" = gpu ]; then \
        pip install --no-cache-dir "tensorflow[and-cuda]==2.15.1"; \
    elif [ "$ACCELERATOR" = tpu ]; then \
        pip uninstall -y tensorflow && pip install --no-cache-dir "tensorflow-tpu==2.15.1" \
            -f https://storage.googleapis.com/libtpu-tf-releases/index.html; \
    elif [ "$ACCELERATOR" != cpu ]; then \
        echo "ACCELERATOR must be cpu, gpu or tpu" >&2; exit 1; \
    fi

COPY impala_tf impala_tf
COPY binaries binaries
COPY configs configs
RUN pip install --no-cache-dir --no-deps . \
    && useradd --create-home --uid 10001 --shell /usr/sbin/nologin impala

# Not root: the processes write only to the bucket and their own temporary files.
USER 10001
ENV PYTHONUNBUFFERED=1 TF_CPP_MIN_LOG_LEVEL=1
# Must match impala_tf.cloud.launch.ENTRYPOINT (tests/dockerfile_test.py).
ENTRYPOINT ["python", "-m", "impala_tf_binaries.cloud_entrypoint"]
