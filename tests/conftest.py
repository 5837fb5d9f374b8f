"""pytest collection tweaks for tf.test.TestCase suites."""


def pytest_collection_modifyitems(config, items):
  # tf.test.TestCase inherits a deprecated `test_session` context manager
  # that pytest collects as a (skipped) test; it is not one.
  del config
  items[:] = [item for item in items if item.name != 'test_session']
