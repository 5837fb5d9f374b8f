# One image for every role of a cloud run (learner and actors, GKE and Vertex AI).
#
#   docker build -t REGION-docker.pkg.dev/PROJECT/REPO/impala-tf:TAG .
#   docker build --build-arg ACCELERATOR=gpu -t ...   # learner on NVIDIA GPUs
#   docker build --build-arg ACCELERATOR=tpu -t ...   # learner on a Cloud TPU host
#
# The entrypoint reads the pod's role (learner or actor), its index and the
# learner's address from the platform's environment (impala_tf/cloud/roles.py)
# and becomes the learner or actor binary. docs/cloud.md says how to use it.
FROM python:3.11-slim-bookworm

ARG ACCELERATOR=cpu

WORKDIR /opt/impala_tf
# Dependencies first, from the pinned closure, so code changes reuse this layer.
COPY requirements.txt setup.py ./
RUN pip install --no-cache-dir -r requirements.txt
RUN if [ "$ACCELERATOR" = gpu ]; then \
        pip install --no-cache-dir "tensorflow[and-cuda]==2.15.1"; \
    elif [ "$ACCELERATOR" = tpu ]; then \
        pip uninstall -y tensorflow && pip install --no-cache-dir "tensorflow-tpu==2.15.1" \
            -f https://storage.googleapis.com/libtpu-releases/index.html; \
    elif [ "$ACCELERATOR" != cpu ]; then \
        echo "ACCELERATOR must be cpu, gpu or tpu" >&2; exit 1; \
    fi

COPY impala_tf impala_tf
COPY binaries binaries
COPY configs configs
RUN pip install --no-cache-dir --no-deps .

ENV PYTHONUNBUFFERED=1 TF_CPP_MIN_LOG_LEVEL=1
# Must match impala_tf.cloud.launch.ENTRYPOINT (tests/dockerfile_test.py).
ENTRYPOINT ["python", "-m", "impala_tf_binaries.cloud_entrypoint"]
