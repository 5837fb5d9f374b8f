"""Checks of a config that chooses FTW (TensorFlow-free)."""


def validate(config, error):
  """Raises `error(message)` naming the first field FTW cannot run with."""
  if not config.use_lstm:
    raise error("architecture='ftw' needs use_lstm=true: its recurrent state (both cores) "
                "travels with every unroll, as an LSTM's does.")
  if config.num_tasks != 1:
    raise error(f"architecture='ftw' runs one task; got {config.num_tasks} (tasks="
                f'{config.tasks!r}).')
