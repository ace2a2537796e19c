"""The documentation site: `mkdocs build --strict` passes on docs/ as committed, and fails on a
page with a broken link, so a missing page, file or anchor fails the full tier. The hooks'
helpers (module list, links into experiments/results/, config tables) are checked directly."""

import os
import re
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import mkdocs_hooks  # noqa: E402  (scripts/ is not a package)

MKDOCS = os.path.join(os.path.dirname(sys.executable), "mkdocs")


def build(config: str, site: str) -> subprocess.CompletedProcess:
  return subprocess.run([MKDOCS, "build", "--strict", "-f", config, "--site-dir", site],
                        capture_output=True, text=True, timeout=600, cwd=ROOT)


@pytest.mark.slow
def test_the_site_builds_strictly_and_a_broken_link_fails_it(tmp_path):
  done = build(os.path.join(ROOT, "mkdocs.yml"), str(tmp_path / "site"))
  assert done.returncode == 0, done.stderr[-3000:]
  assert os.path.exists(tmp_path / "site" / "families" / "diffusion" / "index.html")
  api = (tmp_path / "site" / "api" / "index.html").read_text()
  assert "jaxgen.diffusion.samplers" in api and "jaxgen.tokens.maskgit" in api
  # The same site from a copy of docs/ with one link to a page that does not exist.
  docs = tmp_path / "docs"
  shutil.copytree(os.path.join(ROOT, "docs"), docs)
  page = docs / "families" / "gans.md"
  page.write_text(page.read_text() + "\nSee [the missing page](no-such-page.md).\n")
  config = open(os.path.join(ROOT, "mkdocs.yml")).read()
  config = re.sub(r"(?m)^docs_dir: .*$", f"docs_dir: {docs}", config)
  config = config.replace("- scripts/mkdocs_hooks.py", f"- {ROOT}/scripts/mkdocs_hooks.py")
  (tmp_path / "mkdocs.yml").write_text(config)
  broken = build(str(tmp_path / "mkdocs.yml"), str(tmp_path / "broken_site"))
  assert broken.returncode != 0
  assert "no-such-page.md" in broken.stderr and "not found" in broken.stderr


def test_every_module_and_no_private_one_is_in_the_api_page():
  modules = mkdocs_hooks.jaxgen_modules()
  assert "jaxgen" in modules and "jaxgen.diffusion.samplers" in modules
  assert "jaxgen.train.loop" in modules and not any(
      part.startswith("_") for name in modules for part in name.split("."))
  on_disk = sum(f.endswith(".py") and not f.startswith("_") or f == "__init__.py"
                for _, _, files in os.walk(os.path.join(ROOT, "jaxgen")) for f in files)
  assert len(modules) == on_disk


def test_links_into_the_results_read_the_same_in_the_repository_and_the_site():
  text = "![grid](../../experiments/results/ddpm.png) and [page](diffusion.md)"
  assert mkdocs_hooks.results_links(text, "families/ddpm.md") == (
      "![grid](../experiments/results/ddpm.png) and [page](diffusion.md)")
  assert mkdocs_hooks.results_links("![x](../experiments/results/a.png)", "evaluation.md") == (
      "![x](experiments/results/a.png)")
  # Records do not join the site: a link to one is left for the strict build to judge.
  assert mkdocs_hooks.results_links("[x](../experiments/results/a.json)", "evaluation.md") == (
      "[x](../experiments/results/a.json)")
  assert mkdocs_hooks.results_links("[x](https://x.org/experiments/results/a.png)", "a.md") == (
      "[x](https://x.org/experiments/results/a.png)")


def test_a_config_table_holds_the_configs_defaults():
  from experiments.configs import transgan
  table = mkdocs_hooks.config_table("transgan")
  config = transgan.get_config(None)
  assert f"| `learning_rate` | `{config.learning_rate!r}` |" in table
  assert f"| `transgan.d_patch` | `{config.transgan.d_patch!r}` |" in table
  rows = [line for line in table.splitlines() if line.startswith("| `")]
  assert len(rows) == len(mkdocs_hooks._flatten(config.to_dict()))
