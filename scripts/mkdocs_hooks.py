"""mkdocs hooks: the API reference page lists every module of the jaxgen package, found on disk
at build time, so a new module appears in it without anyone editing docs/api.md; and the
pictures of experiments/results/ (sample grids, plots) join the site, so a page links them by
their path in the repository (`../../experiments/results/x.png` from docs/families/), which
reads the same on a code host and in the site; and a `<!-- config:NAME -->` marker becomes the
table of that experiment config's keys and defaults, read from the config at build time, so it
cannot go stale."""

import glob
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MARKER = "<!-- api:modules -->"


def jaxgen_modules(root: str = ROOT) -> list[str]:
  """Dotted names of jaxgen's modules and packages, sorted, private ones (_x) left out."""
  names = []
  for folder, dirs, files in os.walk(os.path.join(root, "jaxgen")):
    dirs[:] = sorted(d for d in dirs if not d.startswith(("_", ".")))
    package = os.path.relpath(folder, root).replace(os.sep, ".")
    for f in sorted(files):
      if f == "__init__.py":
        names.append(package)
      elif f.endswith(".py") and not f.startswith("_"):
        names.append(f"{package}.{f[:-3]}")
  return sorted(names)


def on_page_markdown(markdown: str, page, config, files) -> str:
  """Points links into experiments/results/ at the site's copies, expands config markers into
  their tables, and the marker of docs/api.md into one mkdocstrings block per module."""
  del config, files
  markdown = results_links(markdown, page.file.src_uri)
  markdown = CONFIG_MARKER.sub(lambda m: config_table(m.group(1)), markdown)
  if MARKER not in markdown:
    return markdown
  blocks = "\n\n".join(f"::: {name}\n    options:\n      show_submodules: false"
                       for name in jaxgen_modules())
  return markdown.replace(MARKER, blocks)


RESULTS = "experiments/results"
# A markdown link or image target: ](target) or ](target "title").
LINK = re.compile(r"\]\(([^)\s]+)")


def on_files(files, config):
  """Adds every picture under experiments/results/ to the site at that same path."""
  from mkdocs.structure.files import File
  for path in sorted(glob.glob(os.path.join(ROOT, RESULTS, "**", "*.png"), recursive=True)):
    files.append(File.generated(config, os.path.relpath(path, ROOT), abs_src_path=path))
  return files


def results_links(markdown: str, page_path: str) -> str:
  """Rewrites each link to a picture that, read from the page's place in the repository
  (docs/<page_path>), leads into experiments/results/, to the same file's place in the site."""
  here = os.path.dirname(os.path.join("docs", page_path))

  def rewrite(match: re.Match) -> str:
    target = match.group(1)
    in_repo = os.path.normpath(os.path.join(here, target))
    # Only the pictures join the site (on_files); a link to a record stays as written.
    if "://" in target or not in_repo.startswith(RESULTS + "/") or not target.endswith(".png"):
      return match.group(0)
    return "](" + os.path.relpath(in_repo, os.path.dirname(page_path) or ".")

  return LINK.sub(rewrite, markdown)


# A line starting <!-- config:NAME --> (the rest of it says, on a code host, where the keys
# are): in the site, the table of experiments/configs/NAME.py's keys and defaults.
CONFIG_MARKER = re.compile(r"(?m)^<!-- config:(\w+) -->.*$")


def _flatten(value, prefix: str = "") -> list[tuple[str, object]]:
  """(dotted key, value) of a config dict, nested dicts flattened."""
  out = []
  for key, item in sorted(value.items()):
    if isinstance(item, dict):
      out += _flatten(item, f"{prefix}{key}.")
    else:
      out.append((f"{prefix}{key}", item))
  return out


def config_table(name: str) -> str:
  """The markdown table of a config's keys and their default values, read from its file."""
  import importlib
  import sys
  if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
  config = importlib.import_module(f"experiments.configs.{name}").get_config(None).to_dict()
  # A "|" inside a cell would end it: markdown tables take it escaped.
  rows = [f"| `{key}` | `" + repr(value).replace("|", "\\|") + "` |"
          for key, value in _flatten(config)]
  return (f"Keys of `experiments/configs/{name}.py` with their defaults (set any with "
          f"`--config.KEY=VALUE`; `:tiny` shrinks it for tests):\n\n| key | default |\n"
          "| --- | --- |\n" + "\n".join(rows) + "\n")
