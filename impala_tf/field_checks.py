"""Checks of one config field's value, shared by the validators.

Each raises `error(message)` with a one-line message naming the field; the
validators (`ImpalaConfig.validate` and the per-concern modules it calls)
pass `config.ConfigError`. `prefix` names a config section ('r2d2.'), so the
message names the field as a command line sets it.
"""

import math


def positive(config, name, error, integer=True, prefix=''):
  value = getattr(config, name)
  kind = int if integer else (int, float)
  if isinstance(value, bool) or not isinstance(value, kind) or not value > 0:
    raise error(f'{prefix}{name} must be a positive {"integer" if integer else "number"}, '
                f'got {value!r}.')


def non_negative_integer(config, name, error, prefix=''):
  value = getattr(config, name)
  if isinstance(value, bool) or not isinstance(value, int) or value < 0:
    raise error(f'{prefix}{name} must be a non-negative integer, got {value!r}.')


def in_range(config, name, low, high, low_open=False, error=ValueError, prefix=''):
  value = getattr(config, name)
  if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
    raise error(f'{prefix}{name} must be a number, got {value!r}.')
  ok = (value > low if low_open else value >= low) and value <= high
  if not ok:
    lo = '(' if low_open else '['
    raise error(f'{prefix}{name} must be in {lo}{low}, {high}], got {value!r}.')


def one_of(config, name, options, error, prefix=''):
  if getattr(config, name) not in options:
    raise error(f'{prefix}{name} must be one of {options}, got {getattr(config, name)!r}.')
