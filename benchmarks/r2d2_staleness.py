r"""R2D2's recurrent-state staleness (the paper's Figure 1) on a trained agent.

  python benchmarks/r2d2_staleness.py [--logdir=runs/r2d2_staleness]
      [--config=configs/r2d2_cartpole_pomdp.py] [--stale_steps=1000]
      [--episodes=20] [--epsilon=0.01] [--out=benchmarks/results/r2d2_staleness]

If --logdir holds no checkpoints, first trains --config there
(binaries/train_local.py, a checkpoint every 20 s, all kept). Then:
  * the current network θ is the newest checkpoint, the acting network θ' the
    one nearest --stale_steps learner updates before it (the age of a
    replayed sequence's stored state; the CartPole preset's 10k-sequence
    replay spans about 1,000 updates);
  * θ' plays --episodes episodes ε-greedily, recording its state before
    each step (what an actor stores);
  * for every window of the run's burn-in + sequence length on its period
    grid, Δ_k = ‖q(ĥ_k; θ) − q(h_k; θ)‖₂ / |max_a q(h_k; θ)| for the four
    starts of impala_tf/agents/r2d2/staleness.py (zero or stored state, without or
    with burn-in), h_k the true state (θ over the whole episode).
Prints Δ at chosen positions and its mean over the sequence, writes <out>.json
and <out>.png (Δ against position, one line per strategy), and ends with one
JSON line.
"""

import json
import os
import subprocess
import sys

import impala_tf  # pylint: disable=g-bad-import-order  (first: oneDNN, see cpu_kernels)
from absl import app
from absl import flags
import numpy as np
import tensorflow as tf

from impala_tf import config as config_lib
from impala_tf import environments
from impala_tf.agents.r2d2 import networks as r2d2_networks
from impala_tf.agents.r2d2 import staleness

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_LOGDIR = flags.DEFINE_string('logdir', 'runs/r2d2_staleness', 'A trained R2D2 run.')
_CONFIG = flags.DEFINE_string('config', os.path.join(_REPO, 'configs', 'r2d2_cartpole_pomdp.py'),
                              'Preset to train when --logdir has no checkpoints.')
_STALE_STEPS = flags.DEFINE_integer('stale_steps', 1000,
                                    'Learner updates between θ\' and θ (nearest checkpoint).')
_EPISODES = flags.DEFINE_integer('episodes', 20, 'Episodes θ\' plays.')
_EPSILON = flags.DEFINE_float('epsilon', 0.01, 'ε of the acting policy.')
_SEED = flags.DEFINE_integer('seed', 0, 'Seed of the episodes.')
_OUT = flags.DEFINE_string('out', os.path.join(_REPO, 'benchmarks', 'results', 'r2d2_staleness'),
                           'Prefix of the .json and .png written.')


def _checkpoints(logdir):
  state = tf.train.get_checkpoint_state(os.path.join(logdir, 'checkpoints'))
  paths = list(state.all_model_checkpoint_paths) if state else []
  return sorted(((int(p.rsplit('-', 1)[-1]), p) for p in paths))


def _train(logdir):
  command = [sys.executable, os.path.join(_REPO, 'binaries', 'train_local.py'),
             f'--config={_CONFIG.value}', f'--logdir={logdir}',
             '--config.checkpoint_every_seconds=20', '--config.checkpoints_to_keep=1000']
  print('training:', ' '.join(command), flush=True)
  subprocess.run(command, check=True, env=dict(os.environ, PYTHONPATH=_REPO))


def _network(config, spec, path):
  network = r2d2_networks.make_network(config, spec.observation_shape, spec.action_space.n,
                                       spec.channels_first)
  tf.train.Checkpoint(network=network).restore(path).expect_partial() \
      .assert_existing_objects_matched()
  return network


def _plot(delta, path, title):
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  figure, axes = plt.subplots(figsize=(6, 4))
  for name, values in delta.items():
    axes.plot(np.arange(len(values)), values, label=name)
  axes.set_xlabel('position in the trained part of the sequence')
  axes.set_ylabel('Δ (Q discrepancy)')
  axes.set_yscale('log')
  axes.set_title(title, fontsize=9)
  axes.legend()
  figure.tight_layout()
  figure.savefig(path, dpi=100)


def main(argv):
  del argv
  logdir = _LOGDIR.value
  if not _checkpoints(logdir):
    _train(logdir)
  checkpoints = _checkpoints(logdir)
  if len(checkpoints) < 2:
    raise SystemExit(f'{logdir} has {len(checkpoints)} checkpoint(s); two are needed.')
  config = config_lib.load_config_file(os.path.join(logdir, 'config.py'))
  # An R2D2 run's checkpoints hold a target network; other agents' do not.
  if not config.use_lstm or not any(
      name.startswith('target_network/') for name, _ in
      tf.train.list_variables(checkpoints[-1][1])):
    raise SystemExit(f'{logdir} is not an R2D2 run with an LSTM.')
  step, current_path = checkpoints[-1]
  stale_step, stale_path = min(checkpoints[:-1],
                               key=lambda c: abs(step - _STALE_STEPS.value - c[0]))
  spec = environments.env_spec(config)
  current, stale = _network(config, spec, current_path), _network(config, spec, stale_path)
  env = environments.make_env(config, 1, seed=_SEED.value)
  try:
    episodes = staleness.record_episodes(stale, env, _EPISODES.value, _EPSILON.value,
                                         _SEED.value)
  finally:
    env.close()
  length, burn_in = config.r2d2.sequence_length, config.r2d2.burn_in
  delta = staleness.measure(current, episodes, length, burn_in, config.r2d2.sequence_period)
  positions = sorted({0, 1, 2, 5, 10, length // 2, length - 1})
  lengths = [len(e) for e in episodes]
  print(f'θ = {current_path} (update {step}), θ\' = update {stale_step} '
        f'({step - stale_step} updates older); {len(episodes)} episodes of θ\' '
        f'(mean length {np.mean(lengths):.0f}), windows of {burn_in} + {length}')
  print(f'{"strategy":22s} ' + ' '.join(f'{f"Δ@{k}":>8s}' for k in positions)
        + f' {"mean":>8s}')
  for name, values in delta.items():
    print(f'{name:22s} ' + ' '.join(f'{values[k]:8.4f}' for k in positions)
          + f' {values.mean():8.4f}')
  result = {
      'logdir': logdir, 'step': step, 'stale_step': stale_step, 'episodes': len(episodes),
      'episode_length_mean': float(np.mean(lengths)), 'burn_in': burn_in,
      'sequence_length': length,
      'delta': {name: [round(float(v), 6) for v in values] for name, values in delta.items()},
      'delta_mean': {name: round(float(values.mean()), 6) for name, values in delta.items()},
  }
  order = sorted(delta, key=lambda n: delta[n].mean())
  result['smallest'] = order[0]
  os.makedirs(os.path.dirname(_OUT.value) or '.', exist_ok=True)
  with open(_OUT.value + '.json', 'w') as f:
    json.dump(result, f, indent=1)
  _plot(delta, _OUT.value + '.png',
        f'{config.env_id}: θ\' {step - stale_step} updates older than θ')
  print(json.dumps({'step': step, 'stale_step': stale_step,
                    'delta_mean': result['delta_mean'], 'smallest': order[0]}))


if __name__ == '__main__':
  app.run(main)
