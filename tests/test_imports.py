"""Imports point down: metrics never load the train loop, diffusion sub-families never load the
module that dispatches to them, no import circle anywhere in jaxgen/; and modules stay small."""

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def loaded_after_import(module: str) -> set[str]:
  """The jaxgen modules a fresh interpreter has loaded after importing `module`."""
  code = (f"import sys, {module}; "
          "print(' '.join(m for m in sys.modules if m.startswith('jaxgen')))")
  out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
  return set(out.stdout.split())


@pytest.mark.parametrize("module", ["jaxgen.metrics.quality", "jaxgen.metrics.fcd",
                                    "jaxgen.metrics.intervals"])
def test_metrics_do_not_import_the_train_package(module):
  loaded = loaded_after_import(module)
  assert module in loaded and not {m for m in loaded if m.startswith("jaxgen.train")}


@pytest.mark.parametrize("module", ["jaxgen.diffusion.ddpm_family", "jaxgen.diffusion.ncsn_family",
                                    "jaxgen.diffusion.classifier_family"])
def test_diffusion_sub_families_do_not_import_the_dispatcher(module):
  loaded = loaded_after_import(module)
  assert module in loaded and "jaxgen.diffusion.family" not in loaded
  assert "jaxgen.train.loop" not in loaded


def test_no_metrics_source_names_the_train_package():
  """Not even a late (in-function) import: the scorer's training lives in jaxgen.train.scorers."""
  import pathlib
  import jaxgen.metrics
  for path in pathlib.Path(jaxgen.metrics.__file__).parent.glob("*.py"):
    imports = [line.strip() for line in path.read_text().splitlines()
               if line.strip().startswith(("from jaxgen.train", "import jaxgen.train"))]
    assert not imports, (path, imports)


def _modules(package: str) -> list[str]:
  """Every module under a package of this checkout, by dotted name."""
  import pkgutil
  import importlib
  return [m.name for m in pkgutil.walk_packages(importlib.import_module(package).__path__,
                                                 package + ".")]


def _defines_flags_on_import(module: str) -> bool:
  """Whether the module defines absl flags at import (two such launchers cannot share a
  process: both define --workdir)."""
  import importlib.util
  import re
  source = open(importlib.util.find_spec(module).origin).read()
  return re.search(r"^\w+ = (flags|config_flags)\.DEFINE", source, re.M) is not None


def test_every_module_imports():
  """Every module of jaxgen/ and experiments/ imports in a fresh interpreter: the launchers
  that define flags at import each in their own, the rest together."""
  modules = _modules("jaxgen") + _modules("experiments")
  assert len(modules) > 100 and "jaxgen.train.loop" in modules and "experiments.report" in modules
  launchers = [m for m in modules if _defines_flags_on_import(m)]
  assert "experiments.main" in launchers
  groups = [[m for m in modules if m not in launchers]] + [[m] for m in launchers]
  for group in groups:
    code = "import importlib, sys\nfor m in sys.argv[1:]:\n  importlib.import_module(m)"
    out = subprocess.run([sys.executable, "-c", code, *group], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]


def _import_graph(package: str = "jaxgen") -> dict[str, set[str]]:
  """`package`'s modules (dotted) -> the modules of `package` each names in any import
  statement, late (in-function) and relative ones included; `from a.b import c` leads to a.b.c
  when that is a module, else to a.b."""
  import ast
  import pathlib
  root = pathlib.Path(ROOT)
  files = {}
  for path in (root / package).rglob("*.py"):
    parts = path.relative_to(root).with_suffix("").parts
    files[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path

  def module_of(name: str) -> str | None:
    while name and name not in files:
      name = name.rpartition(".")[0]
    return name or None

  graph = {}
  for name, path in files.items():
    here = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets = []
    for node in ast.walk(ast.parse(path.read_text())):
      if isinstance(node, ast.ImportFrom):
        base = node.module or ""
        if node.level:  # relative: from the package `level - 1` above this one
          up = here.split(".")[:len(here.split(".")) - node.level + 1]
          base = ".".join(up + ([base] if base else []))
        targets += [f"{base}.{a.name}" for a in node.names]
      elif isinstance(node, ast.Import):
        targets += [a.name for a in node.names]
    graph[name] = {m for m in map(module_of, (t for t in targets
                                             if t.split(".")[0] == package)) if m} - {name}
  return graph


def test_jaxgen_has_no_import_circle():
  """No chain of imports between jaxgen's modules leads back to where it started (inside
  train/, the loop passes itself to the scorers, and what restore and the loop share lives in
  prepare)."""
  graph = _import_graph()
  assert len(graph) > 100 and "jaxgen.train.prepare" in graph["jaxgen.train.restore"]
  assert "jaxgen.train.loop" not in graph["jaxgen.train.scorers"]  # the parse sees imports
  assert "jaxgen.diffusion.schedules" in graph["jaxgen.diffusion.samplers"]
  state: dict[str, str] = {}

  def visit(node: str, path: list[str]) -> None:
    state[node] = "open"
    for nxt in sorted(graph[node]):
      assert state.get(nxt) != "open", " -> ".join(path + [node, nxt])
      if nxt not in state:
        visit(nxt, path + [node])
    state[node] = "done"

  for node in sorted(graph):
    if node not in state:
      visit(node, [])


def test_no_module_over_400_lines():
  """Small modules (issue 40): none in jaxgen/ or experiments/ over 400 lines, the benchmarks
  aside."""
  import pathlib
  long = [f"{p.relative_to(ROOT)}: {n}" for folder in ("jaxgen", "experiments")
          for p in sorted(pathlib.Path(ROOT, folder).rglob("*.py"))
          if "bench" not in p.parts and (n := len(p.read_text().splitlines())) > 400]
  assert not long, "split these by responsibility:\n" + "\n".join(long)
