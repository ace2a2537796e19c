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
