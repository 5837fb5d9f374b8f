"""BUILD matches the imports, the imports have no circle, and the shared core
knows no agent (STYLE.md rules 12 and 15; docs/agents.md).

Static checks of the source tree: nothing here imports TensorFlow.
"""

import ast
import os
import sys
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'tools'))

import build_file  # pylint: disable=g-import-not-at-top,wrong-import-position

# Modules of impala_tf/agents/ the shared core may import: the interface and
# the registry, never an agent's package.
_SEAM = ('impala_tf.agents', 'impala_tf.agents.interface', 'impala_tf.agents.registry',
         'impala_tf.agents.hyperparameters', 'impala_tf.agents.latent',
         'impala_tf.agents.state_unrolls')


def _python_files(*directories):
  for directory in directories:
    for dirpath, dirnames, filenames in os.walk(os.path.join(ROOT, directory)):
      dirnames[:] = [d for d in dirnames if not d.startswith(('.', '__'))]
      for name in filenames:
        if name.endswith('.py'):
          yield os.path.relpath(os.path.join(dirpath, name), ROOT)


def _build_targets():
  """{(rule, name): {attribute: ast node}} of BUILD, parsed as Python."""
  with open(os.path.join(ROOT, 'BUILD')) as f:
    tree = ast.parse(f.read(), 'BUILD')
  out = {}
  for node in tree.body:
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
      call = node.value
      fields = {k.arg: k.value for k in call.keywords}
      if 'name' in fields:
        out[(call.func.id, fields['name'].value)] = fields
  return out


class BuildFileTest(unittest.TestCase):

  def test_build_is_what_the_imports_make_it(self):
    diff = build_file.check()
    self.assertEqual(diff, [], 'BUILD is stale; run python tools/build_file.py:\n'
                     + '\n'.join(diff[:60]))

  def test_every_test_file_has_a_py_test_target(self):
    targets = _build_targets()
    missing = []
    for name in sorted(os.listdir(os.path.join(ROOT, 'tests'))):
      if name.endswith('_test.py'):
        target = targets.get(('py_test', name[:-3]))
        srcs = [] if target is None else [e.value for e in target['srcs'].elts]
        if srcs != [f'tests/{name}']:
          missing.append(name)
    self.assertEqual(missing, [])

  def test_every_library_module_has_a_target(self):
    targets = _build_targets()
    sources = set()
    for (rule, _), fields in targets.items():
      if rule == 'py_library' and isinstance(fields['srcs'], ast.List):
        sources |= {e.value for e in fields['srcs'].elts}
    missing = sorted(set(_python_files('impala_tf')) - sources)
    self.assertEqual(missing, [])

  def test_no_import_circle_counting_imports_inside_functions(self):
    self.assertEqual(build_file.circles(build_file.import_graph()), [])

  def test_the_circle_finder_finds_a_circle(self):
    graph = {'a': {'b'}, 'b': {'c'}, 'c': {'a'}, 'd': {'a'}}
    self.assertEqual(build_file.circles(graph), [['a', 'b', 'c']])

  def test_imports_inside_functions_and_registry_strings_count(self):
    graph = build_file.import_graph()
    # launcher imports nothing of the learner at module level; the
    # registry names the agents by string only.
    self.assertIn('impala_tf.agents.r2d2.agent', graph['impala_tf.agents.registry'])
    self.assertIn('impala_tf.agents.registry', graph['impala_tf.actor'])

  def test_the_shared_core_imports_no_agent_package(self):
    graph = build_file.import_graph()
    offenders = []
    for module, imported in graph.items():
      if module.startswith('impala_tf.agents'):
        continue
      for other in imported:
        if other.startswith('impala_tf.agents') and other not in _SEAM:
          offenders.append(f'{module} -> {other}')
    self.assertEqual(offenders, [])

  def test_agent_packages_import_no_other_agent_and_no_loop(self):
    graph = build_file.import_graph()
    loops = {'impala_tf.actor', 'impala_tf.learner', 'impala_tf.launcher'}
    offenders = []
    for module, imported in graph.items():
      parts = module.split('.')
      if len(parts) < 4 or parts[1] != 'agents':
        continue
      own = '.'.join(parts[:3])
      for other in imported:
        other_parts = other.split('.')
        foreign_agent = (len(other_parts) >= 3 and other_parts[1] == 'agents'
                         and other not in _SEAM and '.'.join(other_parts[:3]) != own)
        if foreign_agent or other in loops:
          offenders.append(f'{module} -> {other}')
    self.assertEqual(offenders, [])

  def test_no_architecture_comparison_outside_the_registry(self):
    offenders = []
    for path in _python_files('impala_tf', 'binaries', 'benchmarks', 'configs'):
      if path == os.path.join('impala_tf', 'agents', 'registry.py'):
        continue
      with open(os.path.join(ROOT, path)) as f:
        tree = ast.parse(f.read(), path)
      for node in ast.walk(tree):
        if not isinstance(node, ast.Compare):
          continue
        sides = [node.left] + list(node.comparators)
        names = [s for s in sides if (isinstance(s, ast.Attribute) and s.attr == 'architecture')
                 or (isinstance(s, ast.Name) and s.id == 'architecture')]
        if names:
          offenders.append(f'{path}:{node.lineno}: {ast.unparse(node)}')
    self.assertEqual(offenders, [])


if __name__ == '__main__':
  unittest.main()
