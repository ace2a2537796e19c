"""Imports point down: metrics never load the train loop, diffusion sub-families never load the
module that dispatches to them."""

import subprocess
import sys

import pytest


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


def _train_import_graph() -> dict[str, set[str]]:
  """jaxgen.train's modules -> the jaxgen.train modules each names in any import statement,
  late (in-function) ones included."""
  import ast
  import pathlib
  import jaxgen.train
  folder = pathlib.Path(jaxgen.train.__file__).parent
  names = {p.stem for p in folder.glob("*.py") if p.stem != "__init__"}
  graph = {}
  for name in names:
    edges = set()
    for node in ast.walk(ast.parse((folder / f"{name}.py").read_text())):
      if isinstance(node, ast.ImportFrom) and node.module == "jaxgen.train":
        edges |= {a.name for a in node.names if a.name in names}
      elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("jaxgen.train."):
        edges.add(node.module.split(".")[2])
      elif isinstance(node, ast.Import):
        edges |= {a.name.split(".")[2] for a in node.names
                  if a.name.startswith("jaxgen.train.")}
    graph[name] = edges - {name}
  return graph


def test_the_train_package_has_no_import_circle():
  """No chain of imports inside jaxgen/train leads back to where it started (the loop passes
  itself to the scorers; what restore and the loop share lives in prepare)."""
  graph = _train_import_graph()
  assert {"loop", "scorers", "evaluation", "restore", "prepare"} <= set(graph)
  assert "loop" in graph["restore"] or "prepare" in graph["restore"]  # the parse sees imports
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
