"""R2D2 through the shared actor and learner loops, on a real Reverb server.

What the actors write (sequences that follow the environment step by step,
with the burn-in as lead padding, the stored state and the discounts), what
the learner does with it (updates, priorities written back, the target's
copies, frames and episodes counted once), the export evaluate.py runs, and
the refusals of what R2D2 cannot run.
"""

import collections
import os
import subprocess
import sys
import threading
import types
from unittest import mock

import numpy as np
import reverb
import tensorflow as tf

from impala_tf import actor as actor_lib
from impala_tf import config as config_lib
from impala_tf import learner as learner_lib
from impala_tf import networks
from impala_tf.agents.r2d2 import adder as adder_lib
from impala_tf.agents.r2d2 import learning
from impala_tf.agents.r2d2 import losses
from impala_tf.agents.r2d2 import replay
from impala_tf.agents.r2d2 import sequences

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BURN_IN, LENGTH, PERIOD = 4, 10, 5


def _config(**kwargs):
  base = dict(env_id='CartPole-v1', architecture='r2d2', torso='mlp', action_repeat=1,
              mlp_hidden_sizes=(16,), use_lstm=True, lstm_units=16, envs_per_actor=4,
              num_actors=2, batch_size=8, reward_clipping='none',
              optimizer='adam', learning_rate=1e-3, lr_schedule='constant',
              total_environment_frames=10_000_000, summary_every_steps=1,
              log_every_seconds=0.5,
              r2d2=dict(head_hidden=16, sequence_length=LENGTH, burn_in=BURN_IN,
                        sequence_period=PERIOD, n_step=3, target_period=5,
                        replay_capacity=2000, replay_min_size=16))
  # A section given in kwargs changes only the fields it names.
  base['r2d2'] = dict(base['r2d2'], **kwargs.pop('r2d2', {}))
  base.update(kwargs)
  return config_lib.ImpalaConfig(**base)


def _sequences(address, count=40):
  """Distinct sequences sampled from the replay table, with their info (few:
  the table's rate limiter also holds a test's samples)."""
  client = reverb.Client(address)
  seen = {}
  for sample in client.sample(replay.SEQUENCE_TABLE, num_samples=count, emit_timesteps=False,
                              unpack_as_table_signature=True):
    seen[int(sample.info.key)] = sample
  return list(seen.values())


class R2D2AgentTest(tf.test.TestCase):

  def _start(self, config, logdir, actors=1, max_unrolls=None):
    learner = learner_lib.Learner(config, logdir)
    self.addCleanup(learner.close)
    stop = threading.Event()
    self.addCleanup(stop.set)
    started = []
    for task in range(actors):
      actor = actor_lib.Actor(config, f'127.0.0.1:{learner.port}', task=task)
      thread = threading.Thread(target=actor.run,
                                kwargs={'stop': stop, 'max_unrolls': max_unrolls}, daemon=True)
      thread.start()
      started.append((actor, thread))
    return learner, started, stop

  def test_sequences_follow_the_environment(self):
    config = _config()
    learner, [(actor, thread)], _ = self._start(config, self.get_temp_dir(), max_unrolls=12)
    thread.join(timeout=300)
    self.assertFalse(thread.is_alive())
    samples = _sequences(f'127.0.0.1:{learner.port}')
    # 12 blocks of 5 steps in 4 envs: 240 steps, about a sequence per 5 steps
    # (below what the rate limiter lets in before the learner samples).
    self.assertGreater(len(samples), 15)
    starts = mid = 0
    priorities = []
    for sample in samples:
      d = sample.data
      self.assertEqual(d['observation'].shape, (BURN_IN + LENGTH, 4))
      mask = d['mask']
      real = np.flatnonzero(mask)
      self.assertTrue(np.array_equal(real, np.arange(real[0], real[-1] + 1)), mask)
      if d['first'][real[0]]:
        # An episode's first sequence: the burn-in's lead padding before it,
        # and the initial (zero) state stored.
        starts += 1
        self.assertEqual(real[0], BURN_IN)
        self.assertAllEqual(d['core_state'][0], np.zeros(16))
      else:
        mid += 1
        self.assertEqual(real[0], 0)
        self.assertGreater(np.abs(d['core_state'][0]).sum(), 0.0)
      self.assertTrue(np.all(mask[real[-1] + 1:] == 0))
      self.assertTrue(np.all(d['observation'][mask == 0] == 0))
      self.assertFalse(np.any(d['first'][real[1:]]))
      # Step t's action and reward are step t+1's previous action and reward.
      self.assertAllEqual(d['prev_action'][real[1:]], d['action'][real[:-1]])
      self.assertAllEqual(d['prev_reward'][real[1:]], d['reward'][real[:-1]])
      self.assertAllEqual(d['reward'][real], np.ones(len(real)))   # CartPole: +1 a step
      # γ on every step but an episode's last, which ends the sequence.
      ended = np.flatnonzero(d['discount'][real] == 0)
      self.assertTrue(ended.size == 0 or ended.tolist() == [len(real) - 1], d['discount'])
      discounted = d['discount'][real][d['discount'][real] > 0]
      self.assertAllClose(discounted, np.full(len(discounted), config.discount))
      # The actor's priority: the TD errors of the Q values it acted with.
      # The learner never ran, so every step acted with its initial weights;
      # unrolled from the stored state over the whole sequence, they give the
      # same Q values, and the learner's formula (one network) the priority.
      self.assertEqual(d['weights_version'], 0)
      column = lambda name: tf.constant(d[name][:, None])
      batch = learning.SequenceBatch(
          observation=column('observation'), first=column('first'),
          prev_action=column('prev_action'), prev_reward=column('prev_reward'),
          action=column('action'), reward=column('reward'), discount=column('discount'),
          mask=column('mask'), start_state=tuple(s[None] for s in d['core_state']))
      q = learning.q_values(learner.train_step_fn.network, batch, burn_in=0)[BURN_IN:]
      want = losses.r2d2_loss(q, q, batch.action[BURN_IN:], batch.reward[BURN_IN:],
                              batch.discount[BURN_IN:], batch.mask[BURN_IN:],
                              n=config.r2d2.n_step).priorities[0]
      self.assertAllClose(sample.info.priority, want, rtol=1e-4)
      priorities.append(sample.info.priority)
    self.assertGreater(starts, 0)
    self.assertGreater(mid, 0)
    self.assertGreater(len(set(priorities)), len(priorities) // 2)

  def test_replay_items_are_views_of_steps_written_once(self):
    # What SequenceWriter puts in Reverb equals NumpyWriter's stacked
    # sequences, including across a reconnect (a new writer mid-episode);
    # each item's priority is the function of the steps' Q values, actions,
    # rewards, discounts and mask it was given, the Q values kept aside.
    length, period, lead = BURN_IN + LENGTH, PERIOD, BURN_IN
    signature = {'id': tf.TensorSpec([length], tf.int64),
                 'obs': tf.TensorSpec([length, 3], tf.float32),
                 'action': tf.TensorSpec([length], tf.int32),
                 'reward': tf.TensorSpec([length], tf.float32),
                 'discount': tf.TensorSpec([length], tf.float32),
                 'mask': tf.TensorSpec([length], tf.float32),
                 'weights_version': tf.TensorSpec([], tf.int64),
                 'core_state': (tf.TensorSpec([2], tf.float32),) * 2}
    server = reverb.Server([reverb.Table.queue('q', 1000, signature=signature)], port=None)
    self.addCleanup(server.stop)
    client = reverb.Client(f'127.0.0.1:{server.port}')
    version = [7]
    priority = lambda q, action, reward, discount, mask: float(
        np.sum(q[:, 1] * mask) + 0.5 * np.sum(action) + 0.25 * np.sum(reward * discount))
    new_writer = lambda: replay.SequenceWriter(client, length, priority, lambda: version[0],
                                               with_state=True, name='q')
    def steps(builder, switch_at=None):
      out, writer = [], builder.writer
      for episode, size in enumerate([37, 3, 21]):
        for i in range(size):
          if (episode, i) == switch_at:
            writer.writer.flush()
            writer.close()
            writer = new_writer()
            builder.attach(writer)
          out += builder.add({'id': np.int64(1000 * episode + i),
                              'obs': np.full(3, i, np.float32),
                              'action': np.int32(i % 3), 'reward': np.float32(i),
                              'discount': np.float32(0.5 if i % 2 else 1.0),
                              replay.Q_VALUES: np.array([-i, i / 7], np.float32)},
                             (np.full(2, i, np.float32), np.full(2, -i, np.float32)))
        out += builder.end_episode()
      return out, writer
    expected, _ = steps(sequences.SequenceBuilder(length, period, lead))
    _, writer = steps(sequences.SequenceBuilder(length, period, lead, writer=new_writer()),
                      switch_at=(0, 20))
    writer.writer.flush()
    writer.close()
    self.assertEqual(client.server_info()['q'].current_size, len(expected))
    for want in expected:
      got = next(client.sample('q', emit_timesteps=False, unpack_as_table_signature=True))
      self.assertAllClose(got.info.priority, priority(
          want.steps[replay.Q_VALUES], want.steps['action'], want.steps['reward'],
          want.steps['discount'], want.mask))
      got = got.data
      self.assertNotIn(replay.Q_VALUES, got)
      for name in ('id', 'obs', 'action', 'reward', 'discount'):
        self.assertAllEqual(got[name], want.steps[name])
      self.assertAllEqual(got['mask'], want.mask)
      self.assertAllEqual(got['core_state'][0], want.start_state[0])
      self.assertAllEqual(got['core_state'][1], want.start_state[1])
      self.assertEqual(got['weights_version'], 7)

  def test_a_non_finite_actor_priority_is_not_written(self):
    # A NaN reward (a broken environment) gives a NaN TD error; the sequence
    # enters replay at the constant priority instead of breaking the sampler.
    config = _config(r2d2=dict(n_step=2))
    priority = adder_lib.SequenceAdder(
        config, types.SimpleNamespace(acting_distribution=None))._priority()
    length = BURN_IN + LENGTH
    columns = [np.ones((length, 2)), np.zeros(length, int), np.ones(length),
               np.full(length, 0.9), np.ones(length)]
    self.assertGreater(priority(*columns), 0.0)
    self.assertNotEqual(priority(*columns), adder_lib.INITIAL_PRIORITY)
    columns[2][BURN_IN + 3] = np.nan
    self.assertEqual(priority(*columns), adder_lib.INITIAL_PRIORITY)

  def test_a_non_finite_sequence_is_skipped_and_deleted_not_fatal(self):
    # A sequence with a NaN reward (a broken environment) in replay: the
    # update it is sampled into is skipped, the sequence deleted (Reverb
    # refuses a NaN priority), and training goes on.
    config = _config()
    learner, [(_, thread)], _ = self._start(config, self.get_temp_dir(), max_unrolls=12)
    thread.join(timeout=300)
    self.assertFalse(thread.is_alive())
    address = f'127.0.0.1:{learner.port}'
    client = reverb.Client(address)
    size = client.server_info()[replay.SEQUENCE_TABLE].current_size
    data = next(tf.nest.map_structure(np.array, s.data) for s in _sequences(address, 10)
                if s.data['mask'][BURN_IN + 1])
    data['reward'][BURN_IN + 1] = np.nan   # in the first trained steps' returns
    with client.trajectory_writer(num_keep_alive_refs=1) as writer:
      writer.append(data)
      # Far above every other priority: the first batch samples it.
      writer.create_item(replay.SEQUENCE_TABLE, priority=1e6,
                         trajectory=tf.nest.map_structure(lambda c: c[-1], writer.history))
    status = learner.run(max_steps=6)
    self.assertEqual(status['learner_steps'], 6)
    step = learner.train_step_fn
    self.assertLen(step.deleted_sequences, 1)
    self.assertEqual(client.server_info()[replay.SEQUENCE_TABLE].current_size, size)
    # Skipped: the batches sampled before the deletion (the dataset keeps up
    # to 2 batches of samples in flight and one batch ready); the rest train.
    skipped = int(step.skipped_updates.numpy())
    self.assertBetween(skipped, 1, 4)
    # The target period counts the updates applied, not the skipped ones.
    self.assertEqual(int(step.target.updates.numpy()), 6 - skipped)
    for sample in _sequences(address, 20):
      self.assertTrue(np.all(np.isfinite(sample.data['reward'])))

  def test_learner_trains_writes_priorities_and_counts_frames_once(self):
    # New sequences at a constant priority, so the learner's are told apart.
    config = _config(r2d2=dict(actor_priorities=False))
    logdir = self.get_temp_dir()
    learner, started, stop = self._start(config, logdir, actors=2)
    written = {}   # sequence key -> the priority the learner last wrote for it
    write = replay.update_priorities

    def recording(client, keys, priorities):
      written.update(zip(np.asarray(keys).tolist(), np.asarray(priorities).tolist()))
      return write(client, keys, priorities)

    with mock.patch.object(replay, 'update_priorities', recording):
      status = learner.run(max_steps=12)
    stop.set()
    for _, thread in started:
      thread.join(timeout=60)
    self.assertEqual(status['learner_steps'], 12)
    step = learner.train_step_fn
    self.assertEqual(int(step.target.updates.numpy()), 12)
    # The target was copied at update 10 and has not moved since; the online
    # network has.
    online = [v.numpy() for v in step.network.variables]
    target = [v.numpy() for v in step.target_network.variables]
    self.assertFalse(all(np.array_equal(a, b) for a, b in zip(online, target)))
    # Priorities came back from the learner for the sequences it trained on.
    samples = _sequences(f'127.0.0.1:{learner.port}')
    priorities = np.array([s.info.priority for s in samples])
    self.assertGreater(np.sum(priorities != adder_lib.INITIAL_PRIORITY), 0)
    # Each sequence the learner trained on holds, in the table, the priority
    # the learner computed for it (the keys and priorities stayed paired),
    # and the TD errors gave sequences different priorities.
    trained = [s for s in samples if int(s.info.key) in written]
    self.assertNotEmpty(trained)
    for sample in trained:
      self.assertAllClose(sample.info.priority, written[int(sample.info.key)], rtol=1e-6)
    self.assertGreater(len(set(np.round(list(written.values()), 6))), 1)
    # The measured replay ratio, read before the last step: by then the
    # learner had sampled at least 11 batches of 8 out of (at most) all
    # the sequences inserted by now.
    info = reverb.Client(f'127.0.0.1:{learner.port}').server_info()[replay.SEQUENCE_TABLE]
    ratio = step.metrics(np.zeros(len(step.stat_names)), 12)['replay/samples_per_insert']
    self.assertGreater(ratio, 0.0)
    self.assertGreaterEqual(ratio, 11 * 8 / info.rate_limiter_info.insert_stats.completed)
    # Frames: every frame the actors stepped before the learner's last step
    # is counted, none twice; episodes are whole CartPole episodes.
    stepped = sum(actor.env_frames for actor, _ in started)
    self.assertGreater(learner.frames, 0)
    self.assertLessEqual(learner.frames, stepped)
    self.assertGreater(learner.episodes, 0)
    self.assertEqual(status['env_frames'], learner.frames)
    # The learner's episodes are episodes the actors finished, each counted
    # with its whole return (none made up, cut short or summed twice).
    played = collections.Counter(round(r, 3) for actor, _ in started
                                 for r in actor.episode_returns)
    counted = collections.Counter(round(r, 3) for r in learner._episode_returns)  # pylint: disable=protected-access
    self.assertNotEmpty(counted)
    self.assertEqual(counted - played, collections.Counter(), (counted, played))
    self.assertAlmostEqual(status['episode_return_mean'],
                           np.mean(list(learner._episode_returns)), places=4)  # pylint: disable=protected-access
    for actor, _ in started:
      self.assertGreater(actor.weights_version, 0)
    # The checkpoint holds the target network and its update count.
    learner.close()
    resumed = learner_lib.Learner(config, logdir)
    self.addCleanup(resumed.close)
    self.assertEqual(resumed.step, 12)
    self.assertEqual(int(resumed.train_step_fn.target.updates.numpy()), 12)
    for a, b in zip(target, resumed.train_step_fn.target_network.variables):
      self.assertAllEqual(a, b.numpy())

    # The greedy export acts by argmax Q, through the LSTM, and evaluate.py
    # runs it unchanged.
    greedy = os.path.join(logdir, 'saved_model', 'greedy')
    policy = tf.saved_model.load(greedy)
    rng = np.random.default_rng(0)
    t_len, batch = 6, 2
    observation = rng.normal(size=(t_len, batch, 4)).astype(np.float32)
    step_type = np.ones((t_len, batch), np.int32)
    step_type[0] = 0
    reward = np.ones((t_len, batch), np.float32)
    reward[0] = 0.0
    TimeStep = collections.namedtuple('TimeStep', 'step_type reward discount observation')
    state = policy.get_initial_state(batch)
    actions = []
    for t in range(t_len):
      out = policy.action(TimeStep(tf.constant(step_type[t]), tf.constant(reward[t]),
                                   tf.ones([batch]), tf.constant(observation[t])), state)
      state = out.state
      actions.append(out.action.numpy())
    actions = np.stack(actions)
    prev_action = np.concatenate([np.zeros((1, batch), np.int32), actions[:-1]])
    q, _ = step.network.unroll(networks.NetworkInput(observation, step_type == 0, prev_action,
                                                     reward), step.network.initial_state(batch))
    self.assertAllEqual(np.argmax(q.numpy(), -1), actions)
    result = subprocess.run(
        [sys.executable, os.path.join(_REPO, 'binaries', 'evaluate.py'),
         f'--saved_model={greedy}', '--episodes=2'],
        capture_output=True, text=True, timeout=300,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL='3'))
    self.assertEqual(result.returncode, 0, result.stderr[-3000:])
    self.assertIn('"episodes": 2', result.stdout)

  def test_what_r2d2_cannot_run_is_refused(self):
    with self.assertRaisesRegex(ValueError, "continuous.*env_id='Pendulum-v1'|"
                                            "env_id='Pendulum-v1'.*continuous"):
      learner_lib.Learner(_config(env_id='Pendulum-v1'), self.get_temp_dir())
    for overrides, field in (
        (dict(r2d2=dict(replay_capacity=10, replay_min_size=16)), 'r2d2.replay_capacity'),
        (dict(r2d2=dict(replay_min_size=4)), 'r2d2.replay_min_size'),
        (dict(r2d2=dict(n_step=10)), 'r2d2.n_step'),
        (dict(r2d2=dict(sequence_period=11)), 'r2d2.sequence_period'),
        # A period past sequence_length − n_step leaves steps no sequence trains.
        (dict(r2d2=dict(sequence_period=8)), 'r2d2.sequence_period'),
        (dict(r2d2=dict(burn_in=-1)), 'r2d2.burn_in'),
        (dict(strategy='tpu'), 'strategy'),
        (dict(observation_normalization=True), 'observation_normalization'),
        (dict(r2d2=dict(importance_sampling_exponent=1.5)), 'r2d2.importance_sampling_exponent'),
        (dict(num_epochs=2), 'num_epochs'),
        (dict(num_minibatches=2), 'num_minibatches'),
    ):
      with self.subTest(field=field):
        with self.assertRaisesRegex(config_lib.ConfigError, f'^{field}|{field}='):
          _config(**overrides)

  def test_batch_counts_sequences_not_queue_items(self):
    # IMPALA's batch is whole queue items of envs_per_actor unrolls; R2D2's is
    # batch_size sequences sampled from replay, so 6 with 4 envs an actor is valid.
    self.assertEqual(_config(batch_size=6, envs_per_actor=4).batch_size, 6)
    with self.assertRaisesRegex(config_lib.ConfigError, '^batch_size.*envs_per_actor'):
      _config(batch_size=6, envs_per_actor=4, architecture='impala')


if __name__ == '__main__':
  tf.test.main()
