"""Writes the results tables where they are read: experiments/results/TABLES.md and mosaic.png,
the README's headline table, each family page's tables (docs/families/) and all of them on
docs/results.md, each between its report markers.
"""

import os

from experiments.evaluations import FIRST_STAGES
from experiments.guidance_sweeps import plot_sweeps
from experiments.tables import (comparison_tables, fmt_accuracy, fmt_minutes, is_current,
                                markdown_tables, mosaic, speed_order)
from jaxgen.metrics.intervals import Z95

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BEGIN, END = "<!-- report:tables begin -->", "<!-- report:tables end -->"
# Each documentation page with results: the families whose records (and whose comparisons, by
# their first record) its tables hold. docs/results.md holds every table.
PAGES = {
    "docs/families/classifiers.md": ("classifier",),
    "docs/families/autoencoders.md": ("vae",),
    "docs/families/gans.md": ("gan", "cyclegan"),
    "docs/families/diffusion.md": ("ddpm", "ncsn"),
    "docs/families/latent.md": ("kl_autoencoder", "ldm", "diffae", "diffae_latent"),
    "docs/families/code-models.md": ("vqvae", "maskgit", "maskgit_ar", "paella"),
}
ALL_RESULTS_PAGE = "docs/results.md"
HEADLINE_BEGIN, HEADLINE_END = "<!-- report:headline begin -->", "<!-- report:headline end -->"
# The README's headline table: each family's default record, in the order of the family table.
HEADLINE = ("cnn_matched", "vit", "vae", "cvae", "vampprior", "dcgan", "cgan", "cyclegan",
            "transgan", "transgan_conv", "ctransgan", "ddpm", "iddpm", "cfg", "ncsn", "ldm",
            "diffae", "vqvae", "maskgit_s8", "maskgit_ar", "paella_s12_w4")


def page_of(record: dict) -> str | None:
  """The documentation page (repository-relative) whose tables hold `record`."""
  return next((page for page, families in PAGES.items() if record["family"] in families), None)


def headline_figure(r: dict) -> str:
  """A record's main figure in words: a classifier's accuracy, a first stage's reconstruction
  PSNR and FCD, a diffusion autoencoder's label kept from z_sem, a translator's identity kept,
  a generative model's FCD (with its floor) and conditional accuracy."""
  if r["family"] == "classifier":
    return f"accuracy {fmt_accuracy(r, 'accuracy')}"
  if r["family"] in FIRST_STAGES:
    return (f"PSNR {r['psnr']:.2f} dB; recon FCD {r['recon_fcd']:.1f} "
            f"(floor {r['recon_fcd_floor']:.1f})")
  if r["family"] == "diffae":
    return (f"label kept from z_sem {fmt_accuracy(r, 'from_code_cond_accuracy')}; inversion "
            f"PSNR {r['inversion_psnr']:.2f} dB")
  if "ab_cond_accuracy" in r:
    return (f"identity kept A->B {fmt_accuracy(r, 'ab_cond_accuracy')}, B->A "
            f"{fmt_accuracy(r, 'ba_cond_accuracy')}")
  text = f"FCD {r['fcd']:.1f} ± {Z95 * r['fcd_sd']:.1f} (floor {r['fcd_floor']:.1f})"
  if "cond_accuracy" in r:
    text += f"; cond. accuracy {fmt_accuracy(r, 'cond_accuracy')}"
  return text


def headline_table(records: list[dict], link_prefix: str = "") -> str:
  """The README's table: each HEADLINE record that exists and was scored by a pinned scorer,
  with its main figure and a link to its family's page (`link_prefix` + the page's path
  under docs/)."""
  by_name = {r["name"]: r for r in records if is_current(r)}
  rows = ["| record | family page | main figure (test) | trained |", "|---|---|---|---|"]
  for name in HEADLINE:
    r = by_name.get(name)
    if r is None:
      continue
    page = page_of(r)
    link = (f"[{os.path.splitext(os.path.basename(page))[0]}]"
            f"({link_prefix}{os.path.relpath(page, 'docs')})" if page else "")
    rows.append(f"| {name} | {link} | {headline_figure(r)} | "
                f"{fmt_minutes(r.get('train_wall_s')) or 'time not logged'} |")
  return "\n".join(rows) + "\n"


def write_between(path: str, begin: str, end: str, text: str) -> None:
  """Replaces what lies between the `begin` and `end` markers of the file at `path`."""
  from jaxgen.errors import UserError
  content = open(path, encoding="utf-8").read()
  if begin not in content or end not in content:
    raise UserError(f"{os.path.relpath(path, ROOT)} has no {begin} ... {end} markers to "
                    "write between")
  head, rest = content.split(begin, 1)
  tail = rest.split(end, 1)[1]
  with open(path, "w", encoding="utf-8") as f:
    f.write(head + begin + "\n\n" + text + "\n" + end + tail)


def _page_text(records: list[dict], comparisons: list[dict]) -> str:
  """The tables of `records` and of `comparisons`, as one markdown text."""
  text = markdown_tables(records)
  if comparisons:
    text += "\n" + comparison_tables(comparisons)
  return text


def _comparison_page(comparison: dict, by_name: dict[str, dict]) -> str | None:
  """The page of a comparison: that of its first record (a paired test's a), or of a speed
  run's first entry's family."""
  if comparison.get("kind") == "speed":
    return page_of(comparison["entries"][speed_order(comparison)[0]])
  return page_of(by_name[comparison["a"]]) if comparison["a"] in by_name else None


def write_tables(results_dir: str, update_readme: bool, root: str | None = None) -> str:
  """Writes TABLES.md and mosaic.png, and with `update_readme` the README's headline table and
  every documentation page's tables (docs/results.md all of them) under `root` (default: this
  checkout); returns the markdown of all tables."""
  from experiments.records import load
  root = root or ROOT
  records = load(results_dir)
  comparisons = load(os.path.join(results_dir, "comparisons"))
  text = _page_text(records, comparisons)
  with open(os.path.join(results_dir, "TABLES.md"), "w") as f:
    f.write("<!-- made by `python -m experiments.report --tables`; do not edit -->\n\n" + text)
  mosaic(records, results_dir, os.path.join(results_dir, "mosaic.png"))
  plot_sweeps([r for r in records if is_current(r)], results_dir)
  if update_readme:
    write_between(os.path.join(root, "README.md"), HEADLINE_BEGIN, HEADLINE_END,
                  headline_table(records, link_prefix="docs/"))
    write_between(os.path.join(root, ALL_RESULTS_PAGE), BEGIN, END, text)
    by_name = {r["name"]: r for r in records}
    for page in PAGES:
      write_between(os.path.join(root, page), BEGIN, END, _page_text(
          [r for r in records if page_of(r) == page],
          [c for c in comparisons if _comparison_page(c, by_name) == page]))
  return text
