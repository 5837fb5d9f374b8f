#!/bin/bash
# The interpreter of the bazel Python toolchain. Bazel runs tests outside the
# source tree, so the venv is named by IMPALA_TF_PYTHON (set by .bazelrc's
# --test_env / --action_env from the environment of the caller).
if [[ -z "${IMPALA_TF_PYTHON:-}" ]]; then
  echo "venv_python.sh: IMPALA_TF_PYTHON is not set; run bazel through .ci/run or" \
       "export IMPALA_TF_PYTHON=\$PWD/.venv/bin/python" >&2
  exit 2
fi
exec "${IMPALA_TF_PYTHON}" "$@"
