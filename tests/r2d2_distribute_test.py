"""R2D2 under MirroredStrategy over two logical CPUs.

On the same global batch of sequences the two replicas make the update one
device makes (loss, online and target weights, the importance weights'
normalisation by the batch's largest) and hand back the same priorities
for the same keys, in the batch's order. A learner with strategy='mirrored'
then trains from a real actor through its real Reverb replay and writes
priorities back.
"""

import json
import os
import subprocess
import sys
import textwrap

import pytest
import tensorflow as tf

# Tier (pytest.ini): compiles whole learner steps (several seconds each).
pytestmark = pytest.mark.slow

# Logical devices must be configured before TensorFlow initialises, so the
# runs happen in a fresh interpreter.
_PRELUDE = textwrap.dedent('''
    import json, sys, tempfile, threading
    import numpy as np
    import reverb
    import tensorflow as tf
    cpu = tf.config.list_physical_devices('CPU')[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from impala_tf import actor as actor_lib
    from impala_tf import config as config_lib
    from impala_tf import environments
    from impala_tf import learner as learner_lib
    from impala_tf.agents.r2d2 import adder as adder_lib
    from impala_tf.agents.r2d2 import agent as agent_lib
    from impala_tf.agents.r2d2 import progress
    from impala_tf.agents.r2d2 import replay

    config = config_lib.ImpalaConfig(
        env_id='CartPole-v1', architecture='r2d2', torso='mlp', action_repeat=1,
        mlp_hidden_sizes=(16,), use_lstm=True, lstm_units=16,
        envs_per_actor=4, num_actors=1, batch_size=8, reward_clipping='none',
        optimizer='adam', learning_rate=1e-2, lr_schedule='constant',
        r2d2=dict(head_hidden=16, sequence_length=10, burn_in=4, sequence_period=5, n_step=3,
                  target_period=2, replay_capacity=2000, replay_min_size=16,
                  importance_sampling_exponent=0.6), strategy='mirrored',
        total_environment_frames=10_000_000, summary_every_steps=1)
''')

_SAME_BATCH = _PRELUDE + textwrap.dedent('''
    spec = environments.env_spec(config)
    signature = agent_lib.sequence_signature(config, spec)
    rng = np.random.default_rng(0)
    batch, length = 8, config.r2d2.burn_in + config.r2d2.sequence_length
    data = {
        'observation': rng.normal(size=(batch, length, 4)).astype(np.float32),
        'first': np.zeros((batch, length), bool),
        'prev_action': rng.integers(0, 2, (batch, length)).astype(np.int32),
        'prev_reward': rng.normal(size=(batch, length)).astype(np.float32),
        'action': rng.integers(0, 2, (batch, length)).astype(np.int32),
        'reward': 3.0 * rng.normal(size=(batch, length)).astype(np.float32),
        'discount': np.full((batch, length), config.discount, np.float32),
        'mask': np.ones((batch, length), np.float32),
        'weights_version': rng.integers(0, 50, batch).astype(np.int64),
        'core_state': tuple(rng.normal(size=(batch, 16)).astype(np.float32)
                            for _ in range(2)),
    }
    # Episodes that end inside sequences 1 and 6 (the rest padding), and
    # one that starts in sequence 3.
    for b, end in ((1, 9), (6, 12)):
        data['discount'][b, end] = 0.0
        data['mask'][b, end + 1:] = 0.0
    data['first'][:, 0] = True
    data['first'][3, 7] = True
    assert set(data) == set(signature)
    info = reverb.SampleInfo(
        key=np.arange(101, 101 + batch, dtype=np.uint64),
        probability=rng.uniform(0.001, 0.02, batch).astype(np.float64),
        table_size=np.full(batch, 500, np.int64),
        priority=np.ones(batch, np.float64), times_sampled=np.ones(batch, np.int32))
    sample = reverb.ReplaySample(info=info, data=data)
    part = lambda lo: tf.nest.map_structure(lambda x: x[lo:lo + batch // 2], sample)

    results, learners, datasets = {}, {}, {}
    for name in ('default', 'mirrored'):
      strategy = (tf.distribute.MirroredStrategy(['/cpu:0', '/cpu:1'])
                  if name == 'mirrored' else tf.distribute.get_strategy())
      if name == 'default':
        fn = lambda ctx: tf.data.Dataset.from_tensors(sample).repeat()
      else:
        # Consecutive elements go to consecutive replicas: sequences 0-3, 4-7.
        fn = lambda ctx: tf.data.Dataset.from_tensors(part(0)).concatenate(
            tf.data.Dataset.from_tensors(part(4))).repeat()
      learner = learner_lib.Learner(config, tempfile.mkdtemp(), strategy=strategy,
                                    dataset_fn=fn)
      client = reverb.Client(f'127.0.0.1:{learner.port}')
      step = learner.train_step_fn
      step.bind(client, progress.ProgressReader(client))
      if name == 'mirrored':
        assert strategy.num_replicas_in_sync == 2
        for net in ('network', 'target_network'):
          for a, b in zip(getattr(step, net).variables,
                          getattr(learners['default'].train_step_fn, net).variables):
            a.assign(b.numpy())
      learners[name] = learner
      datasets[name] = strategy.distribute_datasets_from_function(fn)
    for name, learner in learners.items():
      step = learner.train_step_fn
      metrics = [learner.train_step() for _ in range(3)]
      # The compiled update once more, for the keys and priorities it returns.
      stats, keys, priorities = step.train_on_batch(iter(datasets[name]))
      results[name] = {
          'loss': [m['loss/total'] for m in metrics],
          'td_abs_mean': [m['q/td_abs_mean'] for m in metrics],
          'importance_weight_mean': [m['replay/importance_weight_mean'] for m in metrics],
          'lag': [m['policy/lag'] for m in metrics],
          'keys': keys.numpy().tolist(), 'priorities': priorities.numpy().tolist(),
          'online': [v.numpy().tolist() for v in step.network.variables],
          'target': [v.numpy().tolist() for v in step.target_network.variables],
          'target_updates': int(step.target.updates.numpy())}
      learner.close()
    results['versions'] = data['weights_version'].tolist()
    json.dump(results, open(sys.argv[1], 'w'))
''')

_REAL_REPLAY = _PRELUDE + textwrap.dedent('''
    import dataclasses
    # Uniform sampling (α = 0), so the test's own samples see the sequences
    # the learner trained on as often as the others; new sequences at a
    # constant priority, so the learner's are told apart.
    config = config_lib.replace(config, r2d2=dict(priority_exponent=0.0,
                                                  actor_priorities=False))
    learner = learner_lib.Learner(config, tempfile.mkdtemp())   # strategy='mirrored'
    assert learner._strategy.num_replicas_in_sync == 2
    # The actor writes a fixed number of sequences and stops, so the table
    # holds the same ones from the learner's first step to the test's samples.
    actor = actor_lib.Actor(config, f'127.0.0.1:{learner.port}')
    actor.run(max_unrolls=12)
    client = reverb.Client(f'127.0.0.1:{learner.port}')
    size = client.server_info()[replay.SEQUENCE_TABLE].current_size
    status = learner.run(max_steps=4)
    priorities = [float(s.info.priority) for s in client.sample(
        replay.SEQUENCE_TABLE, num_samples=20, emit_timesteps=False,
        unpack_as_table_signature=True)]
    json.dump({'status': status, 'priorities': priorities, 'size': size,
               'initial': adder_lib.INITIAL_PRIORITY}, open(sys.argv[1], 'w'))
    learner.close()
''')


class R2D2MirroredStrategyTest(tf.test.TestCase):

  def _run(self, script):
    out = os.path.join(self.get_temp_dir(), 'result.json')
    proc = subprocess.run([sys.executable, '-c', script, out], capture_output=True, text=True,
                          timeout=600, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL='3'))
    self.assertEqual(proc.returncode, 0, proc.stdout[-2000:] + proc.stderr[-4000:])
    with open(out) as f:
      return json.load(f)

  def test_mirrored_equals_default_on_the_same_global_batch(self):
    result = self._run(_SAME_BATCH)
    default, mirrored = result['default'], result['mirrored']
    # Each replica's loss is its share of the global mean: they add up to
    # one device's loss, and the updates are the same.
    self.assertAllClose(default['loss'], mirrored['loss'], rtol=1e-5)
    self.assertAllClose(default['td_abs_mean'], mirrored['td_abs_mean'], rtol=1e-5)
    # Importance weights are scaled by the largest of the global batch (all
    # reduced with MAX), so their mean is one device's.
    self.assertAllClose(default['importance_weight_mean'],
                        mirrored['importance_weight_mean'], rtol=1e-5)
    self.assertLess(default['importance_weight_mean'][0], 0.99)
    for a, b in zip(default['online'], mirrored['online']):
      self.assertAllClose(a, b, rtol=1e-4, atol=1e-6)
    # Four updates with target_period 2: the target was copied at 2 and 4,
    # on every replica alike.
    self.assertEqual(default['target_updates'], 4)
    self.assertEqual(mirrored['target_updates'], 4)
    for a, b in zip(default['target'], mirrored['target']):
      self.assertAllClose(a, b, rtol=1e-4, atol=1e-6)
    # The fourth update's priorities, gathered from both replicas in the
    # batch's order, against the keys that were sampled.
    self.assertEqual(default['keys'], list(range(101, 109)))
    self.assertEqual(mirrored['keys'], list(range(101, 109)))
    self.assertAllClose(default['priorities'], mirrored['priorities'], rtol=1e-5)
    self.assertGreater(min(default['priorities']), 0.0)
    # The lag is the learner step minus the global batch's mean version.
    for k, lag in enumerate(mirrored['lag']):
      self.assertAllClose(k - sum(result['versions']) / 8, lag, rtol=1e-5)
    # The weights moved: the comparison is not trivially true.
    self.assertNotAllClose(default['loss'][0], default['loss'][-1])

  def test_mirrored_learner_trains_from_real_replay(self):
    result = self._run(_REAL_REPLAY)
    self.assertEqual(result['status']['learner_steps'], 4)
    self.assertGreater(result['status']['env_frames'], 0)
    # 4 batches of 8 (4 per replica) updated up to 32 of the table's
    # sequences; 20 uniform samples all missing them would take a table of
    # far more than the actor wrote.
    self.assertBetween(result['size'], 16, 80)
    written = [p for p in result['priorities'] if p != result['initial']]
    self.assertNotEmpty(written)


if __name__ == '__main__':
  tf.test.main()
