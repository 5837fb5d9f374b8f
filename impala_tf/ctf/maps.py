"""Capture the Flag's arenas, as Melting Pot's ASCII maps.

'full' is Melting Pot's own 23 × 23 map (`paintball__capture_the_flag`);
'small' is a 7 × 7 interior inside the same wall and indicator frame, with
each team's flag in the middle of its home row among its spawn points. On
the full map random play captures nothing in 1,000 steps; on the small one
it captures now and then (`benchmarks/ctf_random.py`, docs/ftw.md), so a
learner gets rewards to start from.

Map characters (Melting Pot's): I indicator frame, W wall, ',' ground, P/Q
red/blue spawn points, F/G red/blue flag on its home tile, D/H walls that
paint can destroy. A custom map is any such text.
"""

SMALL = """
IIIIIIIIIII
IWWWWWWWWWI
IWPPPFPPPWI
IW,,,,,,,WI
IW,,,,,,,WI
IW,,,,,,,WI
IW,,,,,,,WI
IW,,,,,,,WI
IWQQQGQQQWI
IWWWWWWWWWI
IIIIIIIIIII
"""

# None: the substrate's own map.
ARENAS = {'full': None, 'small': SMALL}


def ascii_map(arena: str, num_players: int):
  """The map text of `arena` (a name of ARENAS or a map), or None for the
  substrate's own; a ValueError names what a custom map lacks."""
  if arena in ARENAS:
    text = ARENAS[arena]
  elif '\n' in arena:
    text = arena
  else:
    raise ValueError(f'arena {arena!r} is neither one of {sorted(ARENAS)} nor an ASCII map.')
  if text is None:
    return None
  rows = [row for row in text.split('\n') if row]
  if len({len(row) for row in rows}) != 1:
    raise ValueError('arena: the map\'s rows differ in length; a map is a rectangle.')
  cells = ''.join(rows)
  for char, what in (('F', "red flag"), ('G', "blue flag")):
    if cells.count(char) != 1:
      raise ValueError(f'arena: the map needs exactly one {what} ({char!r}), '
                       f'it has {cells.count(char)}.')
  for char, team in (('P', 'red'), ('Q', 'blue')):
    if cells.count(char) < num_players // 2:
      raise ValueError(f'arena: {num_players} players need {num_players // 2} {team} spawn '
                       f'points ({char!r}); the map has {cells.count(char)}.')
  return text
