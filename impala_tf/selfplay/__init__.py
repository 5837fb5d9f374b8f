"""Self-play in a population (FTW, docs/ftw.md): members' Elo ratings from
match outcomes (`elo`) and the matches they play (`matchmaking`)."""
