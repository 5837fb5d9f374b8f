"""Capture the Flag for FTW (docs/ftw.md): Melting Pot's substrate as a
multi-player game (`game`), its arenas (`maps`) and its game events
attributed to players (`events`). Melting Pot is the `ctf` install extra;
`events` and `maps` need nothing beyond numpy."""
