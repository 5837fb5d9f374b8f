"""Role resolution in a container, table-driven, and the entrypoint's command."""

import json
import os
import subprocess
import sys
import tempfile
import time

from absl.testing import absltest
from absl.testing import parameterized

from impala_tf.cloud import entrypoint
from impala_tf.cloud import launch
from impala_tf.cloud import roles

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _cluster_spec(task_type, index, learners=('learner-0:2222',),
                  actors=('actor-0:2222', 'actor-1:2222', 'actor-2:2222')):
  return json.dumps({'cluster': {'workerpool0': list(learners), 'workerpool1': list(actors)},
                     'environment': 'cloud', 'task': {'type': task_type, 'index': index}})


def _tf_config(task_type, index, chief='chief'):
  return json.dumps({'cluster': {chief: ['learner-0:2222'],
                                 'worker': ['actor-0:2222', 'actor-1:2222']},
                     'task': {'type': task_type, 'index': index}})


class ResolveTest(parameterized.TestCase):

  @parameterized.named_parameters(
      ('gke_learner', {'IMPALA_TF_ROLE': 'learner',
                       'IMPALA_TF_LEARNER_ADDRESS': 'run-learner:8000'},
       ('learner', 0, 'run-learner:8000', 'IMPALA_TF_ROLE')),
      ('gke_actor', {'IMPALA_TF_ROLE': 'actor', 'IMPALA_TF_LEARNER_ADDRESS': 'run-learner:8000',
                     'JOB_COMPLETION_INDEX': '17'},
       ('actor', 17, 'run-learner:8000', 'IMPALA_TF_ROLE')),
      ('vertex_learner', {'CLUSTER_SPEC': _cluster_spec('workerpool0', 0)},
       ('learner', 0, 'learner-0:2222', 'CLUSTER_SPEC')),
      ('vertex_actor', {'CLUSTER_SPEC': _cluster_spec('workerpool1', 2)},
       ('actor', 2, 'learner-0:2222', 'CLUSTER_SPEC')),
      ('tf_config_chief', {'TF_CONFIG': _tf_config('chief', 0)},
       ('learner', 0, 'learner-0:2222', 'TF_CONFIG')),
      ('tf_config_master', {'TF_CONFIG': _tf_config('master', 0, chief='master')},
       ('learner', 0, 'learner-0:2222', 'TF_CONFIG')),
      ('tf_config_worker', {'TF_CONFIG': _tf_config('worker', 1)},
       ('actor', 1, 'learner-0:2222', 'TF_CONFIG')),
      # Vertex sets both; CLUSTER_SPEC names the pools as we render them.
      ('cluster_spec_before_tf_config', {'CLUSTER_SPEC': _cluster_spec('workerpool1', 0),
                                         'TF_CONFIG': _tf_config('chief', 0)},
       ('actor', 0, 'learner-0:2222', 'CLUSTER_SPEC')),
      # An explicit role wins over what the platform sets around it.
      ('explicit_before_cluster_spec', {'IMPALA_TF_ROLE': 'learner',
                                        'IMPALA_TF_LEARNER_ADDRESS': 'svc:9000',
                                        'CLUSTER_SPEC': _cluster_spec('workerpool1', 1)},
       ('learner', 0, 'svc:9000', 'IMPALA_TF_ROLE')),
  )
  def test_resolves(self, environ, expected):
    role = roles.resolve(environ)
    self.assertEqual((role.kind, role.index, role.learner_address, role.source), expected)
    self.assertEqual(role.port, int(expected[2].rsplit(':', 1)[1]))

  @parameterized.named_parameters(
      ('nothing', {}, 'cannot tell'),
      ('bad_role', {'IMPALA_TF_ROLE': 'evaluator', 'IMPALA_TF_LEARNER_ADDRESS': 'a:1'},
       "'evaluator'"),
      ('no_address', {'IMPALA_TF_ROLE': 'learner'}, 'IMPALA_TF_LEARNER_ADDRESS'),
      ('address_without_port', {'IMPALA_TF_ROLE': 'learner',
                                'IMPALA_TF_LEARNER_ADDRESS': 'run-learner'}, 'HOST:PORT'),
      ('actor_without_index', {'IMPALA_TF_ROLE': 'actor', 'IMPALA_TF_LEARNER_ADDRESS': 'a:1'},
       'JOB_COMPLETION_INDEX'),
      ('negative_index', {'IMPALA_TF_ROLE': 'actor', 'IMPALA_TF_LEARNER_ADDRESS': 'a:1',
                          'JOB_COMPLETION_INDEX': '-1'}, 'non-negative'),
      ('cluster_spec_not_json', {'CLUSTER_SPEC': '{cluster'}, 'not valid JSON'),
      ('cluster_spec_no_task', {'CLUSTER_SPEC': '{"cluster": {}}'}, '"task"'),
      ('unknown_pool', {'CLUSTER_SPEC': _cluster_spec('workerpool2', 0)}, "'workerpool2'"),
      ('index_out_of_range', {'CLUSTER_SPEC': _cluster_spec('workerpool1', 3)},
       'out of range'),
      ('two_learners', {'CLUSTER_SPEC': _cluster_spec('workerpool1', 0,
                                                      learners=('a:1', 'b:1'))},
       'exactly one learner'),
      ('tf_config_ps', {'TF_CONFIG': _tf_config('ps', 0)}, "'ps'"),
  )
  def test_refuses(self, environ, message):
    with self.assertRaisesRegex(roles.RoleError, message):
      roles.resolve(environ)


class EntrypointTest(parameterized.TestCase):

  def test_commands(self):
    learner = roles.Role('learner', 0, 'svc:8000', 'x')
    actor = roles.Role('actor', 5, 'svc:8000', 'x', tasks=(5,))
    self.assertEqual(entrypoint.commands(learner, 'c.py', 'gs://b/r', python='py'),
                     [['py', '-m', 'impala_tf_binaries.learner', '--config=c.py',
                       '--logdir=gs://b/r', '--port=8000']])
    self.assertEqual(entrypoint.commands(actor, 'c.py', 'gs://b/r', python='py'),
                     [['py', '-m', 'impala_tf_binaries.actor', '--config=c.py',
                       '--learner_address=svc:8000', '--task=5', '--logdir=gs://b/r']])

  @parameterized.named_parameters(
      # 64 actors, 7 per pod: pod 3 runs 21-27, the last pod (9) only 63.
      ('gke_packed', {'IMPALA_TF_ROLE': 'actor', 'IMPALA_TF_LEARNER_ADDRESS': 'svc:8000',
                      'JOB_COMPLETION_INDEX': '3', 'IMPALA_TF_ACTORS_PER_POD': '7',
                      'IMPALA_TF_NUM_ACTORS': '64'}, tuple(range(21, 28))),
      ('gke_last_pod', {'IMPALA_TF_ROLE': 'actor', 'IMPALA_TF_LEARNER_ADDRESS': 'svc:8000',
                        'JOB_COMPLETION_INDEX': '9', 'IMPALA_TF_ACTORS_PER_POD': '7',
                        'IMPALA_TF_NUM_ACTORS': '64'}, (63,)),
      ('vertex_packed', {'CLUSTER_SPEC': _cluster_spec('workerpool1', 1),
                         'IMPALA_TF_ACTORS_PER_POD': '3', 'IMPALA_TF_NUM_ACTORS': '5'},
       (3, 4)),
      ('one_per_pod_by_default', {'IMPALA_TF_ROLE': 'actor',
                                  'IMPALA_TF_LEARNER_ADDRESS': 'svc:8000',
                                  'JOB_COMPLETION_INDEX': '4'}, (4,)),
  )
  def test_actors_packed_per_container(self, environ, tasks):
    role = roles.resolve(environ)
    self.assertEqual(role.tasks, tasks)
    argvs = entrypoint.commands(role, 'c.py', 'gs://b/r', python='py')
    self.assertEqual([a[5] for a in argvs], [f'--task={t}' for t in tasks])
    self.assertEqual(roles.resolve({'IMPALA_TF_ROLE': 'learner',
                                    'IMPALA_TF_LEARNER_ADDRESS': 'svc:1'}).tasks, ())

  def test_a_population_member_gets_its_own_directory_seed_and_learner(self):
    base = {'IMPALA_TF_LEARNER_ADDRESS': 'pbt-1-learner-{member}-0.pbt-1:8000',
            'IMPALA_TF_MEMBER': '2', 'IMPALA_TF_POPULATION': '4', 'IMPALA_TF_SEED': '7'}
    learner = roles.resolve(dict(base, IMPALA_TF_ROLE='learner'))
    self.assertEqual((learner.member, learner.population, learner.seed), (2, 4, 7))
    (argv,) = entrypoint.commands(learner, 'c.py', 'gs://b/r/', python='py')
    self.assertEqual(argv, ['py', '-m', 'impala_tf_binaries.learner', '--config=c.py',
                            '--logdir=gs://b/r/member_2', '--port=8000',
                            '--pbt_dir=gs://b/r/population', '--pbt_member=2', '--pbt_size=4',
                            '--config.seed=9'])
    actor = roles.resolve(dict(base, IMPALA_TF_ROLE='actor', JOB_COMPLETION_INDEX='0',
                               IMPALA_TF_ACTORS_PER_POD='2', IMPALA_TF_NUM_ACTORS='2'))
    self.assertEqual(actor.learner_address, 'pbt-1-learner-2-0.pbt-1:8000')
    argvs = entrypoint.commands(actor, 'c.py', 'gs://b/r', python='py')
    self.assertEqual([a[4:] for a in argvs],
                     [['--learner_address=pbt-1-learner-2-0.pbt-1:8000', f'--task={t}',
                       '--logdir=gs://b/r/member_2', '--config.seed=9'] for t in (0, 1)])
    self.assertIn('actors 0-1 of member 2', roles.describe(actor))
    with self.assertRaisesRegex(roles.RoleError, 'not a member of a population of 4'):
      roles.resolve(dict(base, IMPALA_TF_ROLE='learner', IMPALA_TF_MEMBER='4'))
    with self.assertRaisesRegex(roles.RoleError, 'names a member; set IMPALA_TF_MEMBER'):
      roles.resolve({'IMPALA_TF_ROLE': 'learner',
                     'IMPALA_TF_LEARNER_ADDRESS': 'pbt-1-learner-{member}-0.pbt-1:8000'})

  def test_learner_pbt_size_needs_a_member_below_it(self):
    pbt_dir = self.enter_context(tempfile.TemporaryDirectory())
    result = subprocess.run(
        [sys.executable, os.path.join(_REPO, 'binaries', 'learner.py'),
         f'--config={os.path.join(_REPO, "configs", "cartpole_pbt.py")}', f'--logdir={pbt_dir}/m',
         f'--pbt_dir={pbt_dir}/population', '--pbt_member=5', '--pbt_size=3'],
        capture_output=True, text=True, timeout=120)
    self.assertEqual(result.returncode, 2, result.stderr[-2000:])
    self.assertEqual(result.stderr.strip().splitlines()[-1],
                     'error: --pbt_size=3 needs --pbt_dir and a --pbt_member below it.')
    self.assertFalse(os.path.exists(os.path.join(pbt_dir, 'population')))

  def test_a_pod_past_the_last_actor_is_refused(self):
    with self.assertRaisesRegex(roles.RoleError, 'no actor of the run'):
      roles.resolve({'IMPALA_TF_ROLE': 'actor', 'IMPALA_TF_LEARNER_ADDRESS': 'svc:8000',
                     'JOB_COMPLETION_INDEX': '10', 'IMPALA_TF_ACTORS_PER_POD': '7',
                     'IMPALA_TF_NUM_ACTORS': '64'})

  def test_supervise_ends_with_the_first_failure_and_stops_the_rest(self):
    py = sys.executable
    # All succeed: 0.
    self.assertEqual(entrypoint.supervise([[py, '-c', 'pass'], [py, '-c', 'pass']],
                                          poll_seconds=0.05), 0)
    # One gives up with the learner gone (3): the container exits 3, and the
    # long-running sibling is stopped rather than left behind.
    scratch = self.enter_context(tempfile.TemporaryDirectory())
    marker, ready = os.path.join(scratch, 'stopped'), os.path.join(scratch, 'ready')
    sleeper = (f'import signal, sys, time\n'
               f'def stop(*_):\n  open({marker!r}, "w").close(); sys.exit(0)\n'
               f'signal.signal(signal.SIGTERM, stop)\n'
               f'open({ready!r}, "w").close()\n'
               f'time.sleep(120)\n')
    # The failing role exits once the sleeper has its handler: on a loaded
    # machine a SIGTERM sent while the sleeper's interpreter still starts
    # would kill it before it could leave the marker.
    failing = (f'import os, sys, time\n'
               f'while not os.path.exists({ready!r}):\n  time.sleep(0.01)\n'
               f'sys.exit(3)\n')
    start = time.time()
    code = entrypoint.supervise([[py, '-c', sleeper], [py, '-c', failing]], poll_seconds=0.05)
    self.assertEqual(code, 3)
    self.assertLess(time.time() - start, 60)
    self.assertTrue(os.path.exists(marker))

  def test_config_from_the_variable(self):
    scratch = self.enter_context(tempfile.TemporaryDirectory())
    path = entrypoint.config_file(None, {launch.CONFIG_TEXT_VARIABLE: 'X = 1\n'}, scratch)
    with open(path) as f:
      self.assertEqual(f.read(), 'X = 1\n')
    with self.assertRaisesRegex(roles.RoleError, 'IMPALA_TF_CONFIG'):
      entrypoint.config_file(None, {}, scratch)
    with self.assertRaisesRegex(roles.RoleError, 'ConfigMap'):
      entrypoint.config_file('/nonexistent/config.py', {}, scratch)

  @parameterized.named_parameters(
      ('gke_actor', {'IMPALA_TF_ROLE': 'actor', 'IMPALA_TF_LEARNER_ADDRESS': 'svc:8000',
                     'JOB_COMPLETION_INDEX': '3'}, 'impala_tf_binaries.actor', '--task=3'),
      ('vertex_learner', {'CLUSTER_SPEC': _cluster_spec('workerpool0', 0)},
       'impala_tf_binaries.learner', '--port=2222'),
  )
  def test_binary_dry_run(self, environ, module, flag):
    env = {k: v for k, v in os.environ.items()
           if k not in ('CLUSTER_SPEC', 'TF_CONFIG', 'IMPALA_TF_ROLE')}
    env.update(environ, **{launch.CONFIG_TEXT_VARIABLE: 'X = 1\n'})
    result = subprocess.run(
        [sys.executable, os.path.join(_REPO, 'binaries', 'cloud_entrypoint.py'),
         '--logdir=gs://b/r', '--dry_run'], env=env, capture_output=True, text=True,
        timeout=60)
    self.assertEqual(result.returncode, 0, result.stderr)
    self.assertIn(module, result.stdout)
    self.assertIn(flag, result.stdout)

  def test_binary_without_a_role_says_so_in_one_line(self):
    env = {k: v for k, v in os.environ.items()
           if k not in ('CLUSTER_SPEC', 'TF_CONFIG', 'IMPALA_TF_ROLE')}
    result = subprocess.run(
        [sys.executable, os.path.join(_REPO, 'binaries', 'cloud_entrypoint.py'),
         '--logdir=gs://b/r'], env=env, capture_output=True, text=True, timeout=60)
    self.assertEqual(result.returncode, 2)
    self.assertEqual(len(result.stderr.strip().splitlines()), 1, result.stderr)
    self.assertIn('cannot tell', result.stderr)


if __name__ == '__main__':
  absltest.main()
