"""The IMPALA LSTM agent of configs/impala_lstm_bsuite.py with unrolls of 102
steps, longer than memory_len's longest episode (101 actions): the gradient
runs through every step of an episode, so truncated backpropagation is not
what limits it. The third row of docs/merlin.md's table: it separates what
truncation costs the LSTM from what MERLIN's memory adds.
"""

import dataclasses

from impala_tf_configs import impala_lstm_bsuite


def get_config():
  return dataclasses.replace(impala_lstm_bsuite.get_config(), unroll_length=102)
