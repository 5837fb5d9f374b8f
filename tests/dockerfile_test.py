"""What can be checked about the Dockerfile without a Docker engine.

No image is built here (no Docker engine on the test machines). Checked:
the entrypoint is the one every rendered manifest names; every COPY source
exists; the base image's Python is the one the pins are for; the image
installs the pinned closure and the package whose binaries the entrypoint
runs. Not checked: that the build succeeds, the GPU and TPU variants, the
image's size.
"""

import json
import os
import re

from absl.testing import absltest

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
    self.assertRegex(base, r'^python:3\.11[-.]')
    with open(os.path.join(_REPO, 'setup.py')) as f:
      self.assertIn("python_requires='>=3.11,<3.12'", f.read())
    runs = ' '.join(rest for keyword, rest in instructions if keyword == 'RUN')
    self.assertIn('pip install --no-cache-dir -r requirements.txt', runs)
    self.assertIn('pip install --no-cache-dir --no-deps .', runs)
    # The entrypoint module is installed by setup.py's package mapping.
    with open(os.path.join(_REPO, 'setup.py')) as f:
      self.assertIn("'impala_tf_binaries': 'binaries'", f.read())
    self.assertTrue(os.path.exists(os.path.join(_REPO, 'binaries', 'cloud_entrypoint.py')))


if __name__ == '__main__':
  absltest.main()
