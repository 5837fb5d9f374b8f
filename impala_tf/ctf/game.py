"""One game of Melting Pot's Capture the Flag, every player's view of it.

Melting Pot 2's `paintball__capture_the_flag` (dm-meltingpot 2.4.1 on
dmlab2d; the `ctf` install extra, docs/ftw.md): two teams (players of even
index red, odd blue), 9 actions, a team reward of +1 to the capturing team
and -1 to the other per capture, 1,000-step episodes. `CaptureTheFlag` runs
one game and gives each player its own observation, reward and game points
(`events.attribute`):

  reset()         -> observations [P, H, W, 3] uint8
  step(actions)   -> (observations, rewards [P] float32,
                      events [P, len(events.EVENTS)] int32, last: bool)

Observations are each player's egocentric RGB view (88 × 88: 11 × 11 cells
of 8 × 8-pixel sprites); `pool=True` averages each cell to one pixel
(11 × 11 × 3), which keeps what a sprite shows (its colour) for a small
torso. The game is built with its own seed: the same seed and actions give
the same game (Melting Pot's own `build` draws a seed from Python's global
random state). After the last step, call `reset`.
"""

import numpy as np

from impala_tf.ctf import events as events_lib
from impala_tf.ctf import maps

SUBSTRATE = 'paintball__capture_the_flag'
CELL_PIXELS = 8
EXTRA = 'ctf'


def import_meltingpot():
  """Melting Pot's modules; an ImportError naming the install extra."""
  try:
    # pylint: disable=g-import-not-at-top
    from meltingpot import substrate
    from meltingpot.utils.substrates import builder
    from meltingpot.utils.substrates.wrappers import discrete_action_wrapper
    from meltingpot.utils.substrates.wrappers import multiplayer_wrapper
  except ImportError as e:
    raise ImportError(f'Capture the Flag needs Melting Pot: pip install -e .[{EXTRA}] '
                      f'(docs/ftw.md, "Install"); {e}') from e
  return substrate, builder, discrete_action_wrapper, multiplayer_wrapper


def pool_cells(frames):
  """[..., H, W, C] uint8 frames of 8 × 8-pixel cells -> [..., H/8, W/8, C],
  each cell's mean colour rounded half up (sums over contiguous axes in
  uint16: 7 times as fast as a float mean over both cell axes)."""
  *lead, h, w, c = frames.shape
  rows = frames.reshape(*lead, h // CELL_PIXELS, CELL_PIXELS, w, c).sum(axis=-3, dtype=np.uint16)
  cells = rows.reshape(*lead, h // CELL_PIXELS, w // CELL_PIXELS, CELL_PIXELS, c).sum(
      axis=-2, dtype=np.uint16)
  area = CELL_PIXELS * CELL_PIXELS
  return ((cells + area // 2) // area).astype(np.uint8)


class CaptureTheFlag:
  """One game: `num_players` players, teams by index parity."""

  def __init__(self, num_players: int = 2, arena: str = 'small', pool: bool = True,
               episode_steps: int = 1000, seed: int = 0):
    if num_players < 2 or num_players % 2:
      raise ValueError(f'num_players must be even and at least 2 (two teams), got {num_players}.')
    if episode_steps < 1:
      raise ValueError(f'episode_steps must be at least 1, got {episode_steps}.')
    substrate, builder, discrete_action_wrapper, multiplayer_wrapper = import_meltingpot()
    text = maps.ascii_map(arena, num_players)
    config = substrate.get_config(SUBSTRATE)
    settings = config.lab2d_settings_builder(roles=('default',) * num_players, config=config)
    settings['maxEpisodeLengthFrames'] = int(episode_steps)
    if text is not None:
      settings['simulation']['map'] = text
    env = builder.builder(settings, env_seed=int(seed) + 1)  # Lua wants a seed > 0
    env = multiplayer_wrapper.Wrapper(env, individual_observation_names=['RGB'],
                                      global_observation_names=[])
    self._env = discrete_action_wrapper.Wrapper(env, action_table=config.action_set)
    self.num_players = num_players
    self.num_actions = len(config.action_set)
    # Red (0) for even indices, blue (1) for odd: the substrate's assignment.
    self.teams = np.arange(num_players) % 2
    self.pool = pool
    size = self._env.observation_spec()[0]['RGB'].shape
    self.observation_shape = ((size[0] // CELL_PIXELS, size[1] // CELL_PIXELS, 3) if pool
                              else tuple(size))
    self.events = events_lib.EVENTS

  def _observe(self, timestep):
    frames = np.stack([o['RGB'] for o in timestep.observation])
    return pool_cells(frames) if self.pool else frames

  def reset(self):
    timestep = self._env.reset()
    self._env.events()  # the avatars' start, no game point
    return self._observe(timestep)

  def step(self, actions):
    actions = np.asarray(actions)
    if actions.shape != (self.num_players,):
      raise ValueError(f'step: one action per player ({self.num_players}), got shape '
                       f'{actions.shape}.')
    if actions.min() < 0 or actions.max() >= self.num_actions:
      raise ValueError(f'step: actions must be in [0, {self.num_actions}), got {actions}.')
    timestep = self._env.step([int(a) for a in actions])
    counts = events_lib.attribute(events_lib.decode(self._env.events()), self.teams)
    rewards = np.asarray(timestep.reward, np.float32)
    return self._observe(timestep), rewards, counts, bool(timestep.last())

  def close(self):
    self._env.close()
