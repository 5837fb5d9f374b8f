"""What can be checked about the Dockerfile without a Docker engine.

No image is built here (no Docker engine on the test machines). Checked:
the entrypoint is the one every rendered manifest names; every COPY source
exists; the base image's Python is the one the pins are for, pinned by
digest; the image installs the pinned closure less the test tools (and
nothing it leaves out is needed at run time), and the package whose
binaries the entrypoint runs; it runs as a non-root user. Not checked: that
the build succeeds, the GPU and TPU variants, the image's size.
"""

import importlib.metadata
import json
import os
import re

from absl.testing import absltest
from packaging import requirements as requirements_lib

from impala_tf.cloud import launch

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _instructions():
  with open(os.path.join(_REPO, 'Dockerfile')) as f:
    text = re.sub(r'\\\n', ' ', f.read())
  for line in text.splitlines():
    line = line.strip()
    if line and not line.startswith('#'):
      keyword, _, rest = line.partition(' ')
      yield keyword.upper(), rest.strip()


class DockerfileTest(absltest.TestCase):

  def test_entrypoint_is_the_manifests(self):
    (entrypoint,) = [rest for keyword, rest in _instructions() if keyword == 'ENTRYPOINT']
    self.assertEqual(tuple(json.loads(entrypoint)), launch.ENTRYPOINT)

  def test_copied_paths_exist(self):
    copies = [rest.split() for keyword, rest in _instructions() if keyword == 'COPY']
    self.assertNotEmpty(copies)
    for *sources, _ in copies:
      for source in sources:
        self.assertTrue(os.path.exists(os.path.join(_REPO, source)), source)

  def test_python_and_installs(self):
    instructions = list(_instructions())
    (base,) = [rest for keyword, rest in instructions if keyword == 'FROM']
    self.assertRegex(base, r'^python:3\.11[-.][^@]*@sha256:[0-9a-f]{64}$')
    with open(os.path.join(_REPO, 'setup.py')) as f:
      self.assertIn("python_requires='>=3.11,<3.12'", f.read())
    runs = ' '.join(rest for keyword, rest in instructions if keyword == 'RUN')
    self.assertIn('pip install --no-cache-dir -r /tmp/runtime-requirements.txt', runs)
    self.assertIn('pip install --no-cache-dir --no-deps .', runs)
    # The entrypoint module is installed by setup.py's package mapping.
    with open(os.path.join(_REPO, 'setup.py')) as f:
      self.assertIn("'impala_tf_binaries': 'binaries'", f.read())
    self.assertTrue(os.path.exists(os.path.join(_REPO, 'binaries', 'cloud_entrypoint.py')))

  def test_runs_as_a_non_root_user(self):
    users = [rest for keyword, rest in _instructions() if keyword == 'USER']
    self.assertLen(users, 1)
    self.assertNotIn(users[0], ('root', '0'))
    keywords = [keyword for keyword, _ in _instructions()]
    # After every install, before the entrypoint.
    self.assertGreater(keywords.index('USER'), max(i for i, k in enumerate(keywords) if k == 'RUN'))

  def test_no_test_tools_and_nothing_needed_left_out(self):
    runs = ' '.join(rest for keyword, rest in _instructions() if keyword == 'RUN')
    excluded = re.search(r"grep -v -i -E '\^\(([^)]*)\)=='", runs)
    self.assertIsNotNone(excluded, runs)
    left_out = {_canonical(n) for n in excluded.group(1).split('|')}
    self.assertLessEqual({'pytest', 'kubernetes-validate'}, left_out)
    with open(os.path.join(_REPO, 'requirements.txt')) as f:
      pinned = {_canonical(line.split('==')[0]) for line in f
                if '==' in line and not line.startswith('#')}
    self.assertLessEqual(left_out, pinned)
    # What the package needs at run time, through every dependency (from the
    # installed distributions' own metadata, not from the Dockerfile).
    needed = _closure(_install_requires())
    self.assertEmpty(left_out & needed, left_out & needed)


def _canonical(name):
  return re.sub(r'[-_.]+', '-', name).lower()


def _install_requires():
  with open(os.path.join(_REPO, 'setup.py')) as f:
    text = f.read()
  block = re.search(r'install_requires=\[(.*?)\]', text, re.S).group(1)
  return [requirements_lib.Requirement(r).name for r in re.findall(r"'([^']+)'", block)]


def _closure(names):
  seen, todo = set(), list(names)
  while todo:
    name = _canonical(todo.pop())
    if name in seen:
      continue
    seen.add(name)
    try:
      requires = importlib.metadata.requires(name) or []
    except importlib.metadata.PackageNotFoundError:
      continue
    for spec in requires:
      requirement = requirements_lib.Requirement(spec)
      if requirement.marker and 'extra' in str(requirement.marker):
        continue
      if requirement.marker and not requirement.marker.evaluate():
        continue
      todo.append(requirement.name)
  return seen


if __name__ == '__main__':
  absltest.main()
