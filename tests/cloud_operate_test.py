"""The operator's commands against fake `kubectl` and `gcloud` executables.

The fakes sit first on PATH, append each argv they are given to a log and
answer from a table of canned replies (prefix of the command line -> exit
status and output), so each test sees exactly which commands an operator's
`apply`, `status`, `logs` and `delete` run, in order, and what they make of
the replies.
"""

import dataclasses
import json
import os
import stat
import subprocess
import sys
import tempfile
from unittest import mock

from absl.testing import absltest

from impala_tf import config as config_lib
from impala_tf.cloud import gke
from impala_tf.cloud import launch
from impala_tf.cloud import operate
from impala_tf.cloud import vertex

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_FAKE = '''#!{python}
import json, os, sys
tool = os.path.basename(sys.argv[0])
with open(os.environ['FAKE_CLI_LOG'], 'a') as f:
  f.write(json.dumps([tool, *sys.argv[1:]]) + '\\n')
with open(os.environ['FAKE_CLI_REPLIES']) as f:
  replies = json.load(f)
line = ' '.join([tool, *sys.argv[1:]])
for prefix, (code, out) in replies.items():
  if line.startswith(prefix):
    sys.stdout.write(out)
    sys.exit(code)
'''


def _pods(phases):
  return json.dumps({'items': [
      {'metadata': {'labels': {'app.kubernetes.io/component': component}},
       'status': {'phase': phase}}
      for component, phase in phases]})


class OperateTest(absltest.TestCase):

  def setUp(self):
    super().setUp()
    root = self.enter_context(tempfile.TemporaryDirectory())
    self.bin = os.path.join(root, 'bin')
    os.makedirs(self.bin)
    for tool in ('kubectl', 'gcloud'):
      path = os.path.join(self.bin, tool)
      with open(path, 'w') as f:
        f.write(_FAKE.format(python=sys.executable))
      os.chmod(path, os.stat(path).st_mode | stat.S_IEXEC)
    self.log = os.path.join(root, 'calls.jsonl')
    self.replies_path = os.path.join(root, 'replies.json')
    self.logdir = os.path.join(root, 'run')
    os.makedirs(self.logdir)
    self.out = os.path.join(root, 'manifests')
    self.enter_context(mock.patch.dict(os.environ, {
        'PATH': f'{self.bin}{os.pathsep}{os.environ["PATH"]}', 'FAKE_CLI_LOG': self.log,
        'FAKE_CLI_REPLIES': self.replies_path}))
    self.printed = []
    self.cli = operate.Cli(print_fn=self.printed.append)
    self.replies({})

  def replies(self, table):
    with open(self.replies_path, 'w') as f:
      json.dump(table, f)

  def calls(self):
    if not os.path.exists(self.log):
      return []
    with open(self.log) as f:
      calls = [json.loads(line) for line in f]
    os.remove(self.log)
    return calls

  def render(self, platform, **changes):
    options = dataclasses.replace(
        launch.LaunchOptions(name='pong-1', image='img:1', actors=64,
                             logdir=f'file://{self.logdir}'), **changes)
    config = launch.run_config(
        config_lib.load_config_file(os.path.join(_REPO, 'configs', 'pong.py')), options)
    text = config_lib.config_file_text(config)
    if platform == 'gke':
      self.files = gke.write(gke.objects(options, text), self.out)
    else:
      self.files = []
      vertex.write(vertex.custom_job(options, text), self.out)
    operate.write_record(self.out, platform, options, 'europe-west4',
                         options.sizing().summary(options), self.files)

  def manifests(self):
    """The -f arguments naming each rendered manifest, not run.json."""
    self.assertLen(self.files, 4)
    return [a for path in self.files for a in ('-f', path)]

  def write_status(self, **status):
    with open(os.path.join(self.logdir, 'status.json'), 'w') as f:
      json.dump(status, f)

  def test_gke_apply_checks_for_jobset_then_applies_the_directory(self):
    self.render('gke')
    operate.apply(self.out, self.cli, print_fn=self.printed.append)
    self.assertEqual(self.calls(), [['kubectl', 'get', 'crd', operate.JOBSET_CRD],
                                    ['kubectl', 'apply', *self.manifests()]])
    # The preflight comes first: the quota an operator must have.
    self.assertIn('quota: 88 vCPUs', self.printed[0])

  def test_gke_apply_without_the_jobset_controller_says_how_to_install_it(self):
    self.render('gke')
    self.replies({f'kubectl get crd {operate.JOBSET_CRD}': [1, '']})
    with self.assertRaisesRegex(operate.OperateError, 'releases/download/v0.8.0/manifests'):
      operate.apply(self.out, self.cli, print_fn=self.printed.append)
    self.assertEqual([c[:2] for c in self.calls()], [['kubectl', 'get']])   # nothing applied
    # Rendered without JobSet: no check, plain Jobs applied.
    self.render('gke', jobset=False)
    operate.apply(self.out, self.cli, print_fn=self.printed.append)
    self.assertLen(self.files, 5)
    self.assertEqual(self.calls(), [['kubectl', 'apply',
                                     *[a for p in self.files for a in ('-f', p)]]])

  def test_gke_status_logs_and_delete(self):
    self.render('gke', namespace='rl')
    self.replies({
        'kubectl --namespace rl get jobset pong-1': [0, json.dumps(
            {'status': {'restarts': 1}})],
        'kubectl --namespace rl get pods': [0, _pods(
            [('learner', 'Running')] + [('actor', 'Running')] * 9 + [('actor', 'Pending')])],
    })
    self.write_status(env_frames=1_234_567, frames_per_second=20_500.0, learner_steps=480,
                      episode_return_mean=-3.25, policy_lag=1.5, done=False, finished=False)
    lines = operate.status(self.out, self.cli, print_fn=self.printed.append)
    self.assertEqual(lines, [
        'jobset pong-1: active, 1 restart(s)',
        'actor pods: 1 Pending, 9 Running',
        'learner pods: 1 Running',
        'learner: running; 1,234,567 frames, 20,500 frames/s, step 480, return -3.25, '
        'policy lag 1.5'])
    self.assertEqual(self.calls(), [
        ['kubectl', '--namespace', 'rl', 'get', 'jobset', 'pong-1', '-o', 'json'],
        ['kubectl', '--namespace', 'rl', 'get', 'pods', '-l',
         'app.kubernetes.io/instance=pong-1', '-o', 'json']])
    operate.logs(self.out, self.cli, follow=True)
    self.assertEqual(self.calls(), [['kubectl', '--namespace', 'rl', 'logs',
                                     'job/pong-1-learner-0', '--follow']])
    operate.logs(self.out, self.cli, role='actor')
    (call,) = self.calls()
    self.assertIn('app.kubernetes.io/instance=pong-1,app.kubernetes.io/component=actor', call)
    operate.delete(self.out, self.cli)
    self.assertEqual(self.calls(), [['kubectl', 'delete', '--ignore-not-found',
                                     *self.manifests()]])

  def test_status_reads_the_end_of_a_run(self):
    self.render('gke')
    self.replies({'kubectl --namespace default get jobset pong-1': [0, json.dumps(
        {'status': {'terminalState': 'Completed', 'restarts': 0}})],
                  'kubectl --namespace default get pods': [0, _pods([])]})
    self.write_status(env_frames=50_000_000, finished=True, done=True)
    lines = operate.status(self.out, self.cli, print_fn=self.printed.append)
    self.assertEqual(lines[0], 'jobset pong-1: Completed, 0 restart(s)')
    self.assertTrue(lines[-1].startswith('learner: finished; 50,000,000 frames'))
    self.write_status(env_frames=10, done=True, finished=False, stopped='no data from any actor')
    self.assertIn('stopped: no data from any actor',
                  operate.status(self.out, self.cli, print_fn=self.printed.append)[-1])

  def test_vertex_apply_records_the_job_then_status_logs_and_cancel(self):
    self.render('vertex')
    job = 'projects/1/locations/europe-west4/customJobs/42'
    self.replies({'gcloud ai custom-jobs create': [0, job + '\n'],
                  'gcloud ai custom-jobs describe': [0, json.dumps(
                      {'state': 'JOB_STATE_RUNNING'})]})
    with self.assertRaisesRegex(operate.OperateError, 'apply'):
      operate.status(self.out, self.cli, print_fn=self.printed.append)
    self.assertEqual(operate.apply(self.out, self.cli, print_fn=self.printed.append), job)
    (create,) = self.calls()
    self.assertEqual(create[:4], ['gcloud', 'ai', 'custom-jobs', 'create'])
    self.assertIn('--region=europe-west4', create)
    self.assertIn(f'--config={self.out}/{vertex.JOB_SPEC_FILE}', create)
    self.assertEqual(operate.read_record(self.out)['vertex_job'], job)
    lines = operate.status(self.out, self.cli, print_fn=self.printed.append)
    self.assertEqual(lines[0], f'vertex job {job}: JOB_STATE_RUNNING')
    self.assertEqual(self.calls(), [['gcloud', 'ai', 'custom-jobs', 'describe', job,
                                     '--region=europe-west4', '--format=json']])
    operate.logs(self.out, self.cli)
    operate.delete(self.out, self.cli)
    self.assertEqual(self.calls(), [
        ['gcloud', 'ai', 'custom-jobs', 'stream-logs', job, '--region=europe-west4'],
        ['gcloud', 'ai', 'custom-jobs', 'cancel', job, '--region=europe-west4']])

  def test_a_failing_tool_and_a_missing_one_are_one_line(self):
    self.render('gke')
    self.replies({'kubectl --namespace default get jobset': [0, 'not json'],
                  'kubectl --namespace default get pods': [1, '']})
    with self.assertRaisesRegex(operate.OperateError, 'kubectl get jobset did not print JSON'):
      operate.status(self.out, self.cli, print_fn=self.printed.append)
    self.replies({'kubectl --namespace default get jobset': [1, ''],
                  'kubectl --namespace default get pods': [1, '']})
    with self.assertRaisesRegex(operate.OperateError, 'kubectl exited 1'):
      operate.status(self.out, self.cli, print_fn=self.printed.append)
    script = os.path.join(_REPO, 'binaries', 'launch_cloud.py')
    env = dict(os.environ, PATH=os.path.dirname(sys.executable))   # no kubectl
    result = subprocess.run([sys.executable, script, 'delete', f'--out={self.out}'], env=env,
                            capture_output=True, text=True, timeout=120)
    self.assertEqual(result.returncode, 2)
    self.assertEqual(result.stderr.strip().splitlines(),
                     ['error: kubectl is not on PATH (docs/cloud.md lists the tools a run '
                      'needs).'])
    result = subprocess.run([sys.executable, script, 'status', f'--out={self.logdir}'],
                            capture_output=True, text=True, timeout=120)
    self.assertEqual(result.returncode, 2)
    self.assertIn('is not a rendered run', result.stderr)

  def test_the_binary_runs_the_commands(self):
    self.render('gke')
    self.replies({'kubectl --namespace default get pods': [0, _pods([('learner', 'Running')])],
                  'kubectl --namespace default get jobset': [1, '']})
    result = subprocess.run([sys.executable, os.path.join(_REPO, 'binaries', 'launch_cloud.py'),
                             'status', f'--out={self.out}'], capture_output=True, text=True,
                            timeout=120)
    self.assertEqual(result.returncode, 0, result.stderr)
    self.assertIn('jobset pong-1: not found', result.stdout)
    self.assertIn('learner pods: 1 Running', result.stdout)
    self.assertIn('learner: no status in', result.stdout)


if __name__ == '__main__':
  absltest.main()
