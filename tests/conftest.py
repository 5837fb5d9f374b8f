"""pytest collection tweaks for tf.test.TestCase suites, and the tiers' timeouts.

impala_tf is imported before any test module imports TensorFlow, so tests
run TensorFlow's kernels as the binaries do (oneDNN: see cpu_kernels).

Tiers (pytest.ini, docs/development.md): a test marked `learning`, `system`
or `slow` runs in that tier; every other test is in the fast tier, which a
bare `pytest` runs. pytest-timeout fails a test that runs past its tier's
bound (pytest.ini's `timeout` for the fast tier) with its name, and the
test's cleanups stop the processes it started. A test may set its own
bound with `@pytest.mark.timeout(seconds)`.
"""

import pytest

import impala_tf  # noqa: F401  pylint: disable=unused-import

# Seconds; at least twice the slowest test of each tier on a slow day
# (docs/development.md, "Tiers").
TIER_TIMEOUTS = {'learning': 1800, 'system': 600, 'slow': 600, 'ctf': 600}


def pytest_collection_modifyitems(config, items):
  del config
  # tf.test.TestCase inherits a deprecated `test_session` context manager
  # that pytest collects as a (skipped) test; it is not one.
  items[:] = [item for item in items if item.name != 'test_session']
  for item in items:
    if item.get_closest_marker('timeout') is not None:
      continue
    for tier, seconds in TIER_TIMEOUTS.items():
      if item.get_closest_marker(tier) is not None:
        item.add_marker(pytest.mark.timeout(seconds))
        break
