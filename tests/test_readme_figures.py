"""No figure without a record (issue 34): every decimal figure in the Results sections of the
README and of the documentation pages (docs/**/*.md) occurs in a committed JSON record.

The records are the JSON files in experiments/results/ and its validation/, comparisons/ and
brain/ folders (validation/ and comparisons/ may not exist yet); withdrawn/ is not a source.

A Results section runs from a heading that starts "## Results" to the next "## " heading (or the
end of the page). The tables between the report markers (tables and headline) are generated from
the records by `experiments.report --tables`, so they are skipped; everything else (the notes,
the brain decoding results) is prose a person wrote, and this test keeps it from quoting a
number that no record holds.

Matching rules:
- a figure is a token with a decimal point, `\\d+\\.\\d+`, optionally with thousands separators
  (`1,234.5`); integers are not checked, nor is a sign (a record's -x backs "x" and "-x");
- skipped: fenced code blocks, inline code spans, markdown link targets, and tokens that are
  part of a file name, path or identifier (after a letter, or touching `_`, `/` or a further
  `.digit`); a figure followed by letters ("1.9x") is checked;
- a figure with d decimals is backed when some number x in a record (any JSON number at any
  depth, a key or a number written inside a string such as "command") gives the same text at d
  decimals as x, as x * 1.959963984540054 (a 95% half-width from a stored `*_sd` / `*_se`) or,
  for a figure written "NN.N%", as x * 100; rounding is Python's `format(x, ".df")` or half-up
  from the shortest repr of x;
- per-item data is not a source: a list of more than 32 numbers (a record's `nll.per_image`)
  is skipped, since its hundreds of values would back almost any figure by chance;
- ratios of two record numbers are not computed; a figure written as a ratio ("1.9x") is
  backed only by a number in a comparison record (experiments/results/comparisons/).
"""

import decimal
import functools
import glob
import json
import math
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COMPARISONS = "experiments/results/comparisons"
RECORD_DIRS = ("experiments/results", "experiments/results/validation", COMPARISONS,
               "experiments/results/brain")
PER_ITEM_LIST = 32  # longer numeric lists are per-item data (nll.per_image), not figures

SECTION_START = "## Results"
GENERATED_BEGIN = ("<!-- report:tables begin -->", "<!-- report:headline begin -->")
GENERATED_END = ("<!-- report:tables end -->", "<!-- report:headline end -->")

Z95 = 1.959963984540054

# A decimal figure, not part of a longer token (identifier, file name, version "1.2.3").
FIGURE = re.compile(
    r"(?<![\w.,])(\d{1,3}(?:,\d{3})+\.\d+|\d+\.\d+(?:e[-+]\d+)?)(?!_|\.\d)"
    r"(%|x(?![A-Za-z0-9_]))?")
# A number written inside a JSON string ("--guidance_scale=4", "lr 1e-4").
NUMBER_IN_TEXT = re.compile(r"\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")
LINK_TARGET = re.compile(r"\]\([^)\n]*\)")
# A path (its first part has a letter: "runs/ncsn", not "24.6/1803") or a file name.
FILE_NAME = re.compile(r"[\w.-]*[A-Za-z_][\w.-]*/[\w.*/-]*"
                       r"|[\w.-]+\.(?:json|png|npz|npy|py|md|txt|csv|ckpt|msgpack)\b")


def _blank(match: re.Match) -> str:
  return " " * len(match.group(0))


def pages() -> list[str]:
  """The README and every documentation page, as repository-relative paths."""
  docs = sorted(glob.glob(os.path.join(ROOT, "docs", "**", "*.md"), recursive=True))
  return ["README.md"] + [os.path.relpath(p, ROOT) for p in docs]


def read_page(path: str) -> str:
  with open(os.path.join(ROOT, path), encoding="utf-8") as f:
    return f.read()


def results_lines(readme: str) -> list[tuple[int, str]]:
  """(line number, text) of the hand-written lines of the page's Results sections, code
  removed."""
  lines = readme.splitlines()
  out, inside, generated, fenced = [], False, False, False
  for i, line in enumerate(lines):
    if line.startswith("## "):
      inside = line.startswith(SECTION_START)
      continue
    if not inside:
      continue
    if line.strip().startswith(GENERATED_BEGIN):
      generated = True
    if generated:
      generated = not line.strip().startswith(GENERATED_END)
      continue
    if line.lstrip().startswith("```"):
      fenced = not fenced
      continue
    if fenced:
      continue
    out.append((i + 1, line))
  # Inline code spans may wrap onto the next line: blank them over the joined text.
  text = "\n".join(line for _, line in out)
  text = re.sub(r"`[^`]*`", lambda m: re.sub(r"[^\n]", " ", m.group(0)), text)
  text = LINK_TARGET.sub(_blank, text)
  text = FILE_NAME.sub(_blank, text)
  return [(n, line) for (n, _), line in zip(out, text.split("\n"))]


def figures(readme: str) -> list[tuple[int, str, str]]:
  """(line number, figure without separators, its suffix: "", "%" or "x") in the section."""
  found = []
  for n, line in results_lines(readme):
    for m in FIGURE.finditer(line):
      found.append((n, m.group(1).replace(",", ""), m.group(2) or ""))
  return found


def _walk(value, out: list[float]) -> None:
  if isinstance(value, bool) or value is None:
    return
  if isinstance(value, (int, float)):
    if math.isfinite(value):
      out.append(abs(float(value)))
  elif isinstance(value, str):
    if len(value) >= 32 and set(value) <= set("0123456789abcdef"):
      return  # a digest, or a record's per-sample correctness bits: no figures in them
    out.extend(x for x in map(float, NUMBER_IN_TEXT.findall(value))
               if math.isfinite(x) and abs(x) < 1e12)
  elif isinstance(value, dict):
    for k, v in value.items():
      _walk(k, out)
      _walk(v, out)
  elif isinstance(value, list):
    numeric = sum(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
    if numeric > PER_ITEM_LIST:
      return
    for v in value:
      _walk(v, out)


@functools.lru_cache(maxsize=None)
def record_numbers(comparisons_only: bool = False) -> tuple[float, ...]:
  """Every number in the committed records (absolute values), or in the comparison records."""
  numbers = []
  for folder in (COMPARISONS,) if comparisons_only else RECORD_DIRS:
    path = os.path.join(ROOT, folder)
    if not os.path.isdir(path):  # validation/ and comparisons/ may not exist yet
      continue
    for name in sorted(os.listdir(path)):
      if name.endswith(".json"):
        with open(os.path.join(path, name), encoding="utf-8") as f:
          _walk(json.load(f), numbers)
  return tuple(sorted(set(numbers)))


def _texts(x: float, decimals: int) -> set[str]:
  quantum = decimal.Decimal(1).scaleb(-decimals)
  half_up = decimal.Decimal(repr(x)).quantize(quantum, rounding=decimal.ROUND_HALF_UP)
  return {format(x, f".{decimals}f"), str(half_up)}


def texts_of(numbers, decimals: int, suffix: str = "") -> frozenset[str]:
  """The texts at `decimals` decimals that `numbers` back for a figure with `suffix`."""
  out = set()
  for x in numbers:
    candidates = (x,) if suffix == "x" else (x, x * Z95) + ((x * 100,) if suffix == "%" else ())
    for y in candidates:
      out |= _texts(y, decimals)
  return frozenset(out)


@functools.lru_cache(maxsize=None)
def backed(decimals: int, suffix: str = "") -> frozenset[str]:
  """What the records back at `decimals` decimals (built lazily, once per count and suffix)."""
  return texts_of(record_numbers(comparisons_only=suffix == "x"), decimals, suffix)


@functools.lru_cache(maxsize=None)
def backed_scientific(decimals: int) -> frozenset[str]:
  """What the records back in scientific notation ("5.32e-59", a McNemar p) at `decimals`."""
  return frozenset(format(x, f".{decimals}e") for x in record_numbers())


def is_backed(figure: str, suffix: str) -> bool:
  """Whether some record holds `figure` (as written, separators removed) to its decimals."""
  mantissa, _, exponent = figure.partition("e")
  decimals = len(mantissa.split(".")[1])
  if exponent:
    return figure in backed_scientific(decimals)
  return figure in backed(decimals, suffix)


def unbacked(readme: str, path: str = "README.md") -> list[str]:
  """'PATH:LINE: FIGURE' for every figure of the page's Results sections that no record
  backs."""
  missing = []
  for n, figure, suffix in figures(readme):
    if not is_backed(figure, suffix):
      missing.append(f"{path}:{n}: {figure}{suffix}")
  return missing


def test_every_results_figure_is_in_a_record():
  assert record_numbers(), "no records found under experiments/results"
  found = {path: figures(read_page(path)) for path in pages()}
  # The pages whose notes quote the records: their Results sections must still be there.
  for path in ("docs/families/diffusion.md", "docs/families/mindvis.md"):
    assert found.get(path), f"no decimal figure found in {path}: is its Results section there?"
  missing = [m for path in pages() for m in unbacked(read_page(path), path)]
  assert not missing, (
      "figures in a Results section that no record under experiments/results backs (add the "
      "record, or remove or reword the figure):\n" + "\n".join(missing))


def test_the_matching_rules():
  readme = "\n".join([
      "## Results on the embedded digits (x)",
      "FCD 24.6 (floor 1,234.5), 97.3% kept, 2.1x faster, -0.5 nats, 3,353 images/s.",
      "<!-- report:tables begin -->",
      "| 9.99 |",
      "<!-- report:tables end -->",
      "Run `--lr=0.25 --w=1.5` over runs/ncsn_0.5 into [grid](a/b_7.25.png), sbj_1.5.npz, v1.2.3.",
      "```",
      "python -m x --eta=0.75",
      "```",
      "Last 0.125/0.25.",
      "## Layout",
      "3.14"])
  assert figures(readme) == [(2, "24.6", ""), (2, "1234.5", ""), (2, "97.3", "%"),
                             (2, "2.1", "x"), (2, "0.5", ""), (10, "0.125", ""),
                             (10, "0.25", "")]
  numbers = (24.637, 0.97312, 12.5, 2.14)
  assert "24.6" in texts_of(numbers, 1)           # rounds to the text
  assert "0.973" in texts_of(numbers, 3)
  assert "24.5" in texts_of(numbers, 1)           # 1.96 * 12.5: a half-width from an sd
  assert "97.3" in texts_of(numbers, 1, "%")      # a percentage
  assert "97.3" not in texts_of(numbers, 1)
  assert "24.64" in texts_of(numbers, 2) and "24.63" not in texts_of(numbers, 2)
  assert "0.974" not in texts_of(numbers, 3)
  assert texts_of((1.0,), 2, "x") == {"1.00"}     # a ratio: the stored number itself, no more
  assert "0.125" in texts_of((0.125,), 3) and "0.13" in texts_of((0.125,), 2)  # half-up
  # A p value in scientific notation is one figure, matched to its mantissa's decimals.
  assert figures("## Results\nMcNemar p = 5.32e-59 and 3.1e-08.") == [
      (2, "5.32e-59", ""), (2, "3.1e-08", "")]


def test_a_made_up_figure_is_not_backed():
  assert backed(1, "x") == texts_of(record_numbers(comparisons_only=True), 1, "x")
  assert "123.456" not in backed(3)
  assert "99.97" not in backed(2, "%")
  assert not is_backed("1.23e-45", "")
