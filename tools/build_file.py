r"""Writes BUILD from the tree and its imports, or checks that it is current.

  python tools/build_file.py           # rewrites BUILD
  python tools/build_file.py --check   # exit 1 (and a diff) if BUILD is stale

BUILD mirrors the tree (docs/development.md, "Bazel"): a py_library per
module of impala_tf/, a py_binary per script in binaries/ and benchmarks/, a
py_test per tests/*_test.py. Each target's deps are the modules its file
imports, counting imports inside functions and the modules the agent
registry names by string (`impala_tf/agents/registry.py`), so BUILD cannot
drift from the code and a circle in the imports is a circle in bazel's
graph. `tests/build_file_test.py` runs `check` and looks for circles.

Third-party packages come from the virtual environment (requirements.txt)
through the toolchain in tools/bazel, not from bazel.
"""

import ast
import difflib
import os
import re
import sys
from typing import Dict, List, Set

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = 'impala_tf'
# Strings in these files that name modules ('impala_tf.x.y' or
# 'impala_tf.x.y:Name') are imports: the registry loads agents by name.
STRING_IMPORTS = ('impala_tf/agents/registry.py',)
_MODULE_STRING = re.compile(r'^(impala_tf(?:\.\w+)+)(?::\w+)?$')
# The pytest markers of the tiers outside the fast one (pytest.ini). A test
# target is tagged with the tiers of its tests ('fast' for unmarked ones), so
# `bazel test --test_tag_filters=-slow,-system,-learning,-ctf` runs the files
# wholly in the fast tier (bazel runs a file's every test).
TIER_MARKERS = ('slow', 'system', 'learning', 'ctf')
_SCRIPT_DIRS = ('binaries', 'benchmarks')
# Test files that check the source tree itself, or start Python processes
# that import impala_tf from the working directory: bazel's runfiles tree is
# not that tree, so they run under pytest only (tagged 'pytest-only', which
# `bazel test --test_tag_filters=...,-pytest-only` leaves out).
_PYTEST_ONLY = {
    'build_file_test': 'reads the whole source tree and BUILD',
    'dockerfile_test': 'checks the Dockerfile against the source tree',
    'cpu_kernels_test': 'its subprocesses import impala_tf from the working directory',
}
# Data files a test reads, by any of the strings that name them in its text
# (a path, or the parts os.path.join joins).
_TEST_DATA = {
    ('tests/schemas/', "'schemas'"): 'glob(["tests/schemas/*.json"])',
    ('tests/data/', "'tests', 'data'"): 'glob(["tests/data/*.json"])',
    ('docs/', "'docs', "): 'glob(["docs/*.md"])',
}
# Test helpers imported by name (pytest puts tests/ on the path).
_TEST_HELPERS = ('small_runs',)


def _rel(path):
  return os.path.relpath(path, ROOT)


def library_modules() -> Dict[str, str]:
  """{dotted module name: file path relative to ROOT} under impala_tf/."""
  out = {}
  for dirpath, dirnames, filenames in os.walk(os.path.join(ROOT, PACKAGE)):
    dirnames[:] = sorted(d for d in dirnames if not d.startswith(('.', '__')))
    for name in sorted(filenames):
      if name.endswith('.py'):
        rel = _rel(os.path.join(dirpath, name))
        dotted = rel[:-3].replace(os.sep, '.')
        if dotted.endswith('.__init__'):
          dotted = dotted[:-len('.__init__')]
        out[dotted] = rel
  return out


def imports_of(path: str, modules) -> Set[str]:
  """The impala_tf modules (keys of `modules`) the file at `path` imports,
  anywhere in it, and by string where the file is a registry."""
  with open(os.path.join(ROOT, path)) as f:
    tree = ast.parse(f.read(), path)
  found = set()

  def add(name):
    # The longest prefix of `name` that is a module.
    parts = name.split('.')
    for i in range(len(parts), 0, -1):
      candidate = '.'.join(parts[:i])
      if candidate in modules:
        found.add(candidate)
        return

  for node in ast.walk(tree):
    if isinstance(node, ast.Import):
      for alias in node.names:
        add(alias.name)
    elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
      for alias in node.names:
        full = f'{node.module}.{alias.name}'
        if full in modules:
          found.add(full)
        else:
          add(node.module)
    elif (path in STRING_IMPORTS and isinstance(node, ast.Constant)
          and isinstance(node.value, str) and _MODULE_STRING.match(node.value)):
      add(_MODULE_STRING.match(node.value).group(1))
  return found


def import_graph() -> Dict[str, Set[str]]:
  """{module: the impala_tf modules it imports} over impala_tf/. A module
  also imports its package's __init__ (Python runs it first); that edge is
  left out, as Python resolves it without a circle."""
  modules = library_modules()
  return {name: imports_of(path, modules) - {name} for name, path in modules.items()}


def circles(graph: Dict[str, Set[str]]) -> List[List[str]]:
  """Strongly connected components with more than one module (Tarjan)."""
  index, low, on_stack, stack, out = {}, {}, set(), [], []
  counter = [0]

  def visit(v):
    index[v] = low[v] = counter[0]
    counter[0] += 1
    stack.append(v)
    on_stack.add(v)
    for w in sorted(graph.get(v, ())):
      if w not in index:
        visit(w)
        low[v] = min(low[v], low[w])
      elif w in on_stack:
        low[v] = min(low[v], index[w])
    if low[v] == index[v]:
      component = []
      while True:
        w = stack.pop()
        on_stack.discard(w)
        component.append(w)
        if w == v:
          break
      if len(component) > 1:
        out.append(sorted(component))

  sys.setrecursionlimit(10000)
  for v in sorted(graph):
    if v not in index:
      visit(v)
  return out


def target_name(module: str) -> str:
  """impala_tf.agents.r2d2.replay -> agents_r2d2_replay; a package's
  __init__ is <package>_package; the root package is impala_tf."""
  if module == PACKAGE:
    return PACKAGE
  rel = module[len(PACKAGE) + 1:]
  modules = library_modules()
  if modules[module].endswith('__init__.py'):
    return rel.replace('.', '_') + '_package'
  return rel.replace('.', '_')


def _label_list(labels) -> str:
  labels = sorted(set(labels))
  if not labels:
    return '[]'
  if len(labels) <= 2 and sum(len(x) for x in labels) < 50:
    return '[' + ', '.join(f'"{x}"' for x in labels) + ']'
  return '[\n' + ''.join(f'        "{x}",\n' for x in labels) + '    ]'


def _rule(kind, name, fields) -> str:
  lines = [f'{kind}(', f'    name = "{name}",']
  for key, value in fields:
    lines.append(f'    {key} = {value},')
  lines.append(')')
  return '\n'.join(lines)


def _package_deps(module: str) -> List[str]:
  """Targets of the packages enclosing `module` (their __init__ runs first)."""
  parts = module.split('.')
  out = []
  for i in range(1, len(parts)):
    package = '.'.join(parts[:i])
    out.append(':cpu_kernels' if package == PACKAGE else f':{target_name(package)}')
  return out


def _test_tags(path: str) -> List[str]:
  """The tiers of the file's tests ('fast' for unmarked ones)."""
  with open(os.path.join(ROOT, path)) as f:
    tree = ast.parse(f.read(), path)
  marks = set()

  def marker(decorators):
    for d in decorators:
      text = ast.unparse(d)
      for tier in TIER_MARKERS:
        if text in (f'pytest.mark.{tier}',):
          return tier
    return None

  module_mark = None
  for node in tree.body:
    if isinstance(node, ast.Assign) and any(
        isinstance(t, ast.Name) and t.id == 'pytestmark' for t in node.targets):
      text = ast.unparse(node.value)
      module_mark = next((t for t in TIER_MARKERS if f'pytest.mark.{t}' in text), None)
  for node in ast.walk(tree):
    if isinstance(node, ast.ClassDef) and node.name.endswith('Test'):
      class_mark = marker(node.decorator_list) or module_mark
      for item in node.body:
        if isinstance(item, ast.FunctionDef) and item.name.startswith('test'):
          marks.add(marker(item.decorator_list) or class_mark or 'fast')
  return sorted(marks) or ['fast']


def _script_data(path: str) -> List[str]:
  """Binaries a test or script runs by path, and the presets it reads."""
  with open(os.path.join(ROOT, path)) as f:
    text = f.read()
  data = []
  binaries = {n[:-3] for n in os.listdir(os.path.join(ROOT, 'binaries')) if n.endswith('.py')}
  for name in sorted(binaries - {'__init__'}):
    if re.search(rf"run_binary\(\s*'{name}'|binaries/{name}\.py|'{name}\.py'", text):
      data.append(f'binaries/{name}.py')
  if 'train_local' in text and 'binaries/train_local.py' not in data:
    data.append('binaries/train_local.py')
  return data


def _scripts_run(path: str) -> List[str]:
  """The binaries `path` runs by path, and those they run, and so on."""
  found, todo = [], list(_script_data(path))
  while todo:
    script = todo.pop(0)
    if script not in found and script != path:
      found.append(script)
      todo.extend(_script_data(script))
  return sorted(found)


def _deps_with_scripts(path: str, modules) -> List[str]:
  """`path`'s own dependencies and those of every binary it runs: a
  binary started from a test's runfiles imports its modules from there."""
  deps = set(_script_deps(path, modules))
  for script in _scripts_run(path):
    deps.update(_script_deps(script, modules))
  return sorted(deps)


def _data(files) -> str:
  presets = 'glob(["configs/*.py"])'
  return f'{_label_list(files)} + {presets}' if files else presets


def _script_deps(path, modules) -> List[str]:
  deps = [f':{target_name(m)}' for m in imports_of(path, modules)]
  with open(os.path.join(ROOT, path)) as f:
    text = f.read()
  for helper in _TEST_HELPERS:
    if re.search(rf'^\s*(import {helper}|from {helper} import)', text, re.M):
      deps.append(f':{helper}')
  return deps


def generate() -> str:
  """The text BUILD should have."""
  modules = library_modules()
  out = [
      '# Generated by tools/build_file.py from the tree and its imports; edit the',
      '# code, then run `python tools/build_file.py` (tests/build_file_test.py',
      '# fails while this file is stale). A py_library per module, a py_binary per',
      '# script, a py_test per test file. Third-party packages come from the',
      '# virtual environment that tools/bazel/venv_python.sh runs (requirements.txt).',
      'package(default_visibility = ["//visibility:public"])',
  ]
  for module, path in sorted(modules.items()):
    deps = [f':{target_name(m)}' for m in imports_of(path, modules)
            if m != module and m != PACKAGE]
    if module == PACKAGE:
      # The package's __init__ names its public API lazily (PEP 562).
      deps = [f':{target_name(m)}' for m in modules if m.count('.') == 1]
      out.append(_rule('py_library', PACKAGE, [('srcs', _label_list([path])),
                                               ('deps', _label_list(deps))]))
      continue
    if module == f'{PACKAGE}.cpu_kernels':
      # The package's __init__ sets oneDNN's default before TensorFlow loads,
      # so it travels with the module every other one depends on.
      out.append(_rule('py_library', 'cpu_kernels', [
          ('srcs', _label_list([path, f'{PACKAGE}/__init__.py']))]))
      continue
    deps += [d for d in _package_deps(module) if d != f':{target_name(module)}']
    out.append(_rule('py_library', target_name(module), [
        ('srcs', _label_list([path])), ('deps', _label_list(deps))]))

  out.append(_rule('py_library', 'configs', [
      ('srcs', 'glob(["configs/*.py"])'), ('deps', _label_list([':config']))]))
  for helper in _TEST_HELPERS:
    path = f'tests/{helper}.py'
    out.append(_rule('py_library', helper, [
        ('testonly', 'True'), ('srcs', _label_list([path])),
        ('imports', '["tests"]'),
        ('deps', _label_list(_script_deps(path, modules)))]))

  libraries = {target_name(m) for m in modules} | {'configs', *_TEST_HELPERS}
  for directory in _SCRIPT_DIRS:
    for name in sorted(os.listdir(os.path.join(ROOT, directory))):
      if not name.endswith('.py') or name == '__init__.py':
        continue
      path = f'{directory}/{name}'
      stem = name[:-3]
      # A script named like a library module gets '_main' (learner_main).
      target = f'{stem}_main' if stem in libraries else stem
      fields = [('srcs', _label_list([path])), ('main', f'"{path}"')]
      fields.append(('data', _data(_scripts_run(path))))
      fields.append(('deps', _label_list(_deps_with_scripts(path, modules))))
      out.append(_rule('py_binary', target, fields))

  for name in sorted(os.listdir(os.path.join(ROOT, 'tests'))):
    if not name.endswith('_test.py'):
      continue
    path = f'tests/{name}'
    tags = _test_tags(path)
    size = 'medium' if tags == ['fast'] else 'large'
    if name[:-3] in _PYTEST_ONLY:
      tags = tags + ['pytest-only']
    data = _data(_scripts_run(path))
    with open(os.path.join(ROOT, path)) as f:
      text = f.read()
    for needles, files in _TEST_DATA.items():
      if any(needle in text for needle in needles):
        data += f' + {files}'
    fields = [('size', f'"{size}"'), ('srcs', _label_list([path])),
              ('data', data),
              ('tags', _label_list(tags)),
              ('deps', _label_list(_deps_with_scripts(path, modules)))]
    out.append(_rule('py_test', name[:-3], fields))
  return '\n\n'.join(out) + '\n'


def check() -> List[str]:
  """The diff between BUILD and what it should be (empty when current)."""
  with open(os.path.join(ROOT, 'BUILD')) as f:
    current = f.read()
  return list(difflib.unified_diff(current.splitlines(), generate().splitlines(),
                                   'BUILD', 'generated', lineterm=''))


def main(argv):
  if '--check' in argv[1:]:
    diff = check()
    if diff:
      print('\n'.join(diff[:200]))
      print('BUILD is stale: run python tools/build_file.py', file=sys.stderr)
      return 1
    return 0
  with open(os.path.join(ROOT, 'BUILD'), 'w') as f:
    f.write(generate())
  return 0


if __name__ == '__main__':
  sys.exit(main(sys.argv))
