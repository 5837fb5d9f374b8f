"""An operator's commands for a rendered run: apply, status, logs, delete.

`launch_cloud.py render` writes the platform's objects and `run.json` (what
the other commands need: platform, name, namespace or region, logdir, the
child Jobs' names, the manifest files) into one directory; every other
command takes that directory. They wrap the platforms' own tools, `kubectl` and
`gcloud ai custom-jobs`, run from PATH, and print each command they run.
"""

import collections
import json
import os
import shlex
import subprocess
from typing import Callable, Dict, List, Optional, Sequence

from impala_tf.choices import STATUS_FILE
from impala_tf.cloud import gke
from impala_tf.cloud import launch
from impala_tf.cloud import vertex

RUN_FILE = 'run.json'
JOBSET_CRD = 'jobsets.jobset.x-k8s.io'


class OperateError(RuntimeError):
  """A command failed, or the directory is not a rendered run."""


def write_record(out_dir: str, platform: str, options: launch.LaunchOptions, region: str,
                 preflight: str, files: Sequence[str] = ()) -> str:
  """Writes run.json; `files`: the manifests `apply` and `delete` pass to
  kubectl (by name: kubectl would read run.json as an object too)."""
  record = {
      'platform': platform, 'name': options.name, 'namespace': options.namespace,
      'region': region, 'logdir': options.logdir, 'jobset': options.jobset,
      'jobs': gke.child_job_names(options) if platform == 'gke' else {},
      'files': [os.path.basename(f) for f in files],
      'preflight': preflight,
  }
  return _save_record(out_dir, record)


def _save_record(out_dir: str, record: dict) -> str:
  path = os.path.join(out_dir, RUN_FILE)
  with open(path, 'w') as f:
    json.dump(record, f, indent=2)
    f.write('\n')
  return path


def read_record(out_dir: str) -> dict:
  path = os.path.join(out_dir, RUN_FILE)
  try:
    with open(path) as f:
      return json.load(f)
  except (OSError, ValueError) as e:
    raise OperateError(f'{out_dir} is not a rendered run ({path}: {e}); run '
                       '`launch_cloud.py render --out=...` first.') from None


class Cli:
  """Runs the platforms' tools; prints each command first."""

  def __init__(self, print_fn: Callable[[str], None] = print):
    self._print = print_fn

  def run(self, argv: Sequence[str], capture: bool = False, check: bool = True):
    self._print('$ ' + ' '.join(shlex.quote(a) for a in argv))
    try:
      result = subprocess.run(list(argv), text=True, capture_output=capture)
    except FileNotFoundError:
      raise OperateError(f'{argv[0]} is not on PATH (docs/cloud.md lists the tools a run '
                         'needs).') from None
    if check and result.returncode != 0:
      detail = (result.stderr or '').strip().splitlines()[-1:] if capture else []
      raise OperateError(f'{argv[0]} exited {result.returncode}'
                         f'{": " + detail[0] if detail else ""}.')
    return result


def _json(result, what):
  try:
    return json.loads(result.stdout)
  except ValueError:
    raise OperateError(f'{what} did not print JSON: {result.stdout[:200]!r}') from None


def _kubectl(record, *args):
  return ['kubectl', '--namespace', record['namespace'], *args]


def _manifests(record, out_dir):
  if not record.get('files'):
    raise OperateError(f'{out_dir}/{RUN_FILE} lists no manifests; render it again.')
  return [arg for name in record['files'] for arg in ('-f', os.path.join(out_dir, name))]


def apply(out_dir: str, cli: Cli, print_fn=print) -> Optional[str]:
  """Submits the rendered run; returns Vertex's job name (None on GKE)."""
  record = read_record(out_dir)
  print_fn(record['preflight'])
  if record['platform'] == 'gke':
    if record['jobset']:
      found = cli.run(['kubectl', 'get', 'crd', JOBSET_CRD], capture=True, check=False)
      if found.returncode != 0:
        raise OperateError(f'the cluster has no JobSet controller ({JOBSET_CRD}); install it '
                           f'with `{gke.JOBSET_INSTALL}`, or render with --nojobset.')
    cli.run(['kubectl', 'apply', *_manifests(record, out_dir)])
    return None
  result = cli.run(
      ['gcloud', 'ai', 'custom-jobs', 'create', f'--region={record["region"]}',
       f'--display-name={record["name"]}', f'--labels=impala-tf-run={record["name"]}',
       f'--config={os.path.join(out_dir, vertex.JOB_SPEC_FILE)}', '--format=value(name)'],
      capture=True)
  job = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ''
  if not job:
    raise OperateError('gcloud created no job name.')
  record['vertex_job'] = job
  _save_record(out_dir, record)
  print_fn(f'submitted {job}')
  return job


def learner_line(logdir: str) -> str:
  """One line from the learner's status file in the logdir."""
  # Here, not at the top: TensorFlow (for gs://) loads only for `status`.
  from impala_tf import run_files  # pylint: disable=g-import-not-at-top
  try:
    status = json.loads(run_files.read(os.path.join(logdir, STATUS_FILE)))
  except Exception as e:  # pylint: disable=broad-except  # any filesystem's error
    return f'learner: no status in {logdir} yet ({type(e).__name__})'
  ret = status.get('episode_return_mean')
  state = ('finished' if status.get('finished') else
           f'stopped: {status["stopped"]}' if status.get('stopped') else
           'ended' if status.get('done') else 'running')
  return (f'learner: {state}; {status.get("env_frames", 0):,} frames, '
          f'{status.get("frames_per_second", 0.0):,.0f} frames/s, step '
          f'{status.get("learner_steps", 0):,}, return '
          f'{"n/a" if ret is None else f"{ret:.2f}"}, policy lag {status.get("policy_lag")}')


def _pod_phases(pods: dict) -> Dict[str, collections.Counter]:
  phases = collections.defaultdict(collections.Counter)
  for pod in pods.get('items', []):
    component = pod['metadata'].get('labels', {}).get('app.kubernetes.io/component', '?')
    phases[component][pod.get('status', {}).get('phase', 'Unknown')] += 1
  return phases


def status(out_dir: str, cli: Cli, print_fn=print) -> List[str]:
  """Prints (and returns) the run's state: the platform's view, then the
  learner's progress from the logdir."""
  record = read_record(out_dir)
  lines = []
  if record['platform'] == 'gke':
    selector = f'app.kubernetes.io/instance={record["name"]}'
    if record['jobset']:
      result = cli.run(_kubectl(record, 'get', 'jobset', record['name'], '-o', 'json'),
                       capture=True, check=False)
      if result.returncode == 0:
        js = _json(result, 'kubectl get jobset').get('status', {})
        lines.append(f'jobset {record["name"]}: {js.get("terminalState") or "active"}, '
                     f'{js.get("restarts", 0)} restart(s)')
      else:
        lines.append(f'jobset {record["name"]}: not found')
    pods = _json(cli.run(_kubectl(record, 'get', 'pods', '-l', selector, '-o', 'json'),
                         capture=True), 'kubectl get pods')
    for component, counts in sorted(_pod_phases(pods).items()):
      lines.append(f'{component} pods: ' + ', '.join(f'{n} {phase}'
                                                     for phase, n in sorted(counts.items())))
  else:
    job = record.get('vertex_job')
    if not job:
      raise OperateError(f'{out_dir}: no Vertex job recorded; `apply` it first.')
    described = _json(cli.run(['gcloud', 'ai', 'custom-jobs', 'describe', job,
                               f'--region={record["region"]}', '--format=json'], capture=True),
                      'gcloud ai custom-jobs describe')
    lines.append(f'vertex job {job}: {described.get("state", "?")}')
  lines.append(learner_line(record['logdir']))
  for line in lines:
    print_fn(line)
  return lines


def logs(out_dir: str, cli: Cli, role: str = 'learner', follow: bool = False):
  """Streams the learner's log (or the actors', GKE)."""
  record = read_record(out_dir)
  if record['platform'] == 'gke':
    if role == 'learner':
      argv = _kubectl(record, 'logs', f'job/{record["jobs"]["learner"]}')
    else:
      argv = _kubectl(record, 'logs', '-l',
                      f'app.kubernetes.io/instance={record["name"]},'
                      'app.kubernetes.io/component=actor', '--prefix', '--tail=20',
                      '--max-log-requests=100')
    cli.run(argv + (['--follow'] if follow else []))
    return
  job = record.get('vertex_job')
  if not job:
    raise OperateError(f'{out_dir}: no Vertex job recorded; `apply` it first.')
  cli.run(['gcloud', 'ai', 'custom-jobs', 'stream-logs', job, f'--region={record["region"]}'])


def delete(out_dir: str, cli: Cli):
  """Stops the run: its objects deleted (GKE) or its job cancelled (Vertex).
  The logdir stays: applying the same directory again resumes from it."""
  record = read_record(out_dir)
  if record['platform'] == 'gke':
    cli.run(['kubectl', 'delete', '--ignore-not-found', *_manifests(record, out_dir)])
    return
  job = record.get('vertex_job')
  if not job:
    raise OperateError(f'{out_dir}: no Vertex job recorded; nothing to cancel.')
  cli.run(['gcloud', 'ai', 'custom-jobs', 'cancel', job, f'--region={record["region"]}'])


COMMANDS = ('render', 'apply', 'status', 'logs', 'delete')
