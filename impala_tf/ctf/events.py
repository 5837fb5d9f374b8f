"""Capture the Flag's game events, attributed to the players they concern.

dmlab2d reports a step's events for the whole game, as a list of
(name, [b'dict', b'key', value, b'key', value, ...]) in the order the game
raised them, with 1-based player indices (Lua's). FTW's internal reward
(Jaderberg et al. 2019, Supplementary Table 4) weighs 13 per-player game
points; `attribute` derives them from Melting Pot's five CTF events and the
players' teams:

  flag_picked_up(player_index)   the player: PICKED_UP; teammates: TEAMMATE_PICKED_UP;
                                 opponents: OPPONENT_PICKED_UP
  flag_captured(player_index)    CAPTURED / TEAMMATE_CAPTURED / OPPONENT_CAPTURED
  flag_returned(player_index)    RETURNED / TEAMMATE_RETURNED / OPPONENT_RETURNED
  zap(source, target)            a tag-out (the target's health reached 0; the
                                 game tags only across teams): the source
                                 TAGGED_OPPONENT, the target WAS_TAGGED ...
  zapped_flag_carrier(player_index)  ... unless this event follows the zap
                                 (the game raises it right after the zap it
                                 belongs to, naming the zapper): then the
                                 source TAGGED_OPPONENT_WITH_FLAG and the target
                                 WAS_TAGGED_WITH_FLAG instead.

Other events (an avatar starting) carry no game point. Pure numpy: the
attribution is tested without Melting Pot installed.
"""

from typing import Any, Dict, List, Sequence, Tuple

import numpy as np

# FTW's game points, in a fixed order: the columns of `attribute`'s counts
# and the components of a member's internal-reward weights.
EVENTS = (
    'picked_up',
    'captured',
    'returned',
    'teammate_picked_up',
    'teammate_captured',
    'teammate_returned',
    'opponent_picked_up',
    'opponent_captured',
    'opponent_returned',
    'tagged_opponent',
    'tagged_opponent_with_flag',
    'was_tagged',
    'was_tagged_with_flag',
)
INDEX = {name: i for i, name in enumerate(EVENTS)}

# Melting Pot's flag events: the acting player's column, its teammates', its
# opponents'.
_FLAG_EVENTS = {
    'flag_picked_up': ('picked_up', 'teammate_picked_up', 'opponent_picked_up'),
    'flag_captured': ('captured', 'teammate_captured', 'opponent_captured'),
    'flag_returned': ('returned', 'teammate_returned', 'opponent_returned'),
}


def decode(raw_events) -> List[Tuple[str, Dict[str, Any]]]:
  """dmlab2d's events as (name, {field: value}): 'dict' events' key/value
  pairs with bytes keys decoded and 0-d numbers as Python numbers; other
  events' payloads as {'value': payload}."""
  decoded = []
  for name, payload in raw_events:
    name = name.decode() if isinstance(name, bytes) else str(name)
    items = list(payload) if isinstance(payload, (list, tuple)) else [payload]
    if items and _text(items[0]) == 'dict' and len(items) % 2 == 1:
      fields = {}
      for key, value in zip(items[1::2], items[2::2]):
        fields[_text(key)] = _plain(value)
      decoded.append((name, fields))
    else:
      decoded.append((name, {'value': [_plain(v) for v in items]}))
  return decoded


def _text(value):
  return value.decode() if isinstance(value, bytes) else value


def _plain(value):
  value = _text(value)
  if isinstance(value, np.ndarray) and value.ndim == 0:
    value = value.item()
  if isinstance(value, float) and value.is_integer():
    return int(value)
  return value


def attribute(events: Sequence[Tuple[str, Dict[str, Any]]], teams) -> np.ndarray:
  """int32 [num_players, len(EVENTS)]: each player's game points in one
  step's decoded events (`decode`). `teams`: each player's team (any
  labels; players 0-based, the events' indices 1-based). A ValueError
  names an event whose player index is outside the game."""
  teams = np.asarray(teams)
  num_players = len(teams)
  counts = np.zeros((num_players, len(EVENTS)), np.int32)

  def player(fields, key, name):
    index = fields.get(key)
    if not isinstance(index, int) or not 1 <= index <= num_players:
      raise ValueError(f'event {name!r} names player {index!r} ({key}), but the game has '
                       f'players 1..{num_players}: {fields}')
    return index - 1

  last_tag = None  # (source, target) of the previous event, if it was a zap
  for name, fields in events:
    if name in _FLAG_EVENTS:
      own, teammate, opponent = (INDEX[c] for c in _FLAG_EVENTS[name])
      p = player(fields, 'player_index', name)
      same = teams == teams[p]
      counts[same, teammate] += 1
      counts[~same, opponent] += 1
      counts[p, teammate] -= 1
      counts[p, own] += 1
    elif name == 'zap':
      source, target = player(fields, 'source', name), player(fields, 'target', name)
      counts[source, INDEX['tagged_opponent']] += 1
      counts[target, INDEX['was_tagged']] += 1
      last_tag = (source, target)
      continue
    elif name == 'zapped_flag_carrier':
      zapper = player(fields, 'player_index', name)
      if last_tag is None or last_tag[0] != zapper:
        raise ValueError(f"'zapped_flag_carrier' by player {zapper + 1} does not follow that "
                         "player's zap: the game raises the two together")
      source, target = last_tag
      counts[source, INDEX['tagged_opponent']] -= 1
      counts[source, INDEX['tagged_opponent_with_flag']] += 1
      counts[target, INDEX['was_tagged']] -= 1
      counts[target, INDEX['was_tagged_with_flag']] += 1
    last_tag = None
  return counts
