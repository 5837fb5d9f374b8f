"""Checks of a config that chooses MERLIN (TensorFlow-free)."""


def validate(config, error):
  """Raises `error(message)` naming the first field MERLIN cannot run with."""
  if not config.use_lstm:
    raise error("architecture='merlin' needs use_lstm=true: its recurrent state (both LSTMs "
                'and the memory) travels with every unroll, as an LSTM\'s does; lstm_units '
                'sizes its policy LSTM.')
  if config.num_tasks != 1:
    raise error(f"architecture='merlin' runs one task; got {config.num_tasks} (tasks="
                f'{config.tasks!r}).')
