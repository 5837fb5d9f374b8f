"""pytest collection tweaks for tf.test.TestCase suites.

impala_tf is imported before any test module imports TensorFlow, so tests
run TensorFlow's kernels as the binaries do (oneDNN: see cpu_kernels).
"""

import impala_tf  # noqa: F401  pylint: disable=unused-import


def pytest_collection_modifyitems(config, items):
  # tf.test.TestCase inherits a deprecated `test_session` context manager
  # that pytest collects as a (skipped) test; it is not one.
  del config
  items[:] = [item for item in items if item.name != 'test_session']
