"""Guidance's trade-off curve from records: one model sampled at several guidance scales
(classifier-free w, or a noisy classifier's scale), its FCD and conditional accuracy against
the scale, as Dhariwal & Nichol (Fig. 4) and Ho & Salimans (Fig. 3) plot them.

Records made with `--setting=ddim:50:w=W` (or `:cls=S`) carry `guidance` = {kind, scale}
(`experiments.report`); `--tables` groups them by trained model and kind into a table here and
a plot (experiments/results/guidance_<model>_<kind>.png).
"""

import os

from jaxgen.metrics.intervals import Z95

KINDS = {"w": "classifier-free", "cls": "classifier"}


def guidance_of(setting) -> dict | None:
  """The record's `guidance` field for a sampler Setting: kind and scale, for a setting that
  names w= or cls= (0 included: a sweep's unguided point); None when it names neither."""
  if setting.w is not None and setting.cls is not None:
    return {"kind": "classifier-free+classifier", "scale": setting.w, "classifier_scale":
            setting.cls}
  if setting.w is not None:
    return {"kind": KINDS["w"], "scale": setting.w}
  if setting.cls is not None:
    return {"kind": KINDS["cls"], "scale": setting.cls}
  return None


def sweeps(records: list[dict]) -> dict[tuple[str, str], list[dict]]:
  """(trained model's workdir name, guidance kind) -> its records sorted by scale, for the
  groups with at least three scales (fewer make no curve)."""
  groups: dict[tuple[str, str], list[dict]] = {}
  for r in records:
    if "guidance" in r and r["guidance"]["kind"] in KINDS.values():
      groups.setdefault((os.path.basename(r["workdir"]), r["guidance"]["kind"]), []).append(r)
  return {k: sorted(v, key=lambda r: r["guidance"]["scale"]) for k, v in sorted(groups.items())
          if len({r["guidance"]["scale"] for r in v}) >= 3}


def plot_name(training: str, kind: str) -> str:
  """The PNG a sweep's plot is saved as, beside the records."""
  return f"guidance_{training}_{kind.replace('-', '_')}.png"


def sweep_tables(records: list[dict], suffix: str) -> list[str]:
  """Markdown lines: per sweep, FCD and conditional accuracy by guidance scale."""
  out = []
  for (training, kind), rows in sweeps(records).items():
    n = sorted({r["num_samples"] for r in rows})
    out += [f"**Guidance sweep: {training}, {kind}{suffix}** (test, n = "
            f"{', '.join(map(str, n))}, {rows[0]['sampler'].split()[0]}; FCD ± 95% bootstrap, "
            f"floor {rows[0]['fcd_floor']:.1f}; conditional accuracy with its Wilson interval; "
            f"plot: {plot_name(training, kind)})", "",
            "| scale | record | FCD | cond. accuracy | smallest class |", "|---|---|---|---|---|"]
    out += [f"| {r['guidance']['scale']:g} | {r['name']} | {r['fcd']:.1f} ± "
            f"{Z95 * r['fcd_sd']:.1f} | {r['cond_accuracy']:.3f} ({r['cond_accuracy_ci95_low']:.3f}"
            f"-{r['cond_accuracy_ci95_high']:.3f}) | {r['min_class_share']:.3f} |" for r in rows]
    out.append("")
  return out


def plot_sweeps(records: list[dict], results_dir: str) -> list[str]:
  """Writes one PNG per sweep (FCD and conditional accuracy against the scale, each with its
  95% interval, and the two against each other: the trade-off); returns the paths."""
  from matplotlib.backends.backend_agg import FigureCanvasAgg
  from matplotlib.figure import Figure
  paths = []
  for (training, kind), rows in sweeps(records).items():
    scales = [r["guidance"]["scale"] for r in rows]
    fcd = [r["fcd"] for r in rows]
    fcd_err = [Z95 * r["fcd_sd"] for r in rows]
    acc = [r["cond_accuracy"] for r in rows]
    acc_err = [[a - r["cond_accuracy_ci95_low"] for a, r in zip(acc, rows)],
               [r["cond_accuracy_ci95_high"] - a for a, r in zip(acc, rows)]]
    fig = Figure(figsize=(10.5, 3.3))
    FigureCanvasAgg(fig)
    ax_fcd, ax_acc, ax_trade = fig.subplots(1, 3)
    ax_fcd.errorbar(scales, fcd, yerr=fcd_err, fmt="o-", capsize=3)
    ax_fcd.axhline(rows[0]["fcd_floor"], color="grey", ls="--", label="floor (real digits)")
    ax_fcd.set(xlabel=f"{kind} guidance scale", ylabel="FCD (lower is better)")
    ax_fcd.legend(fontsize=8)
    ax_acc.errorbar(scales, acc, yerr=acc_err, fmt="o-", capsize=3, color="C1")
    ax_acc.set(xlabel=f"{kind} guidance scale", ylabel="conditional accuracy", ylim=(0, 1))
    ax_trade.plot(fcd, acc, "o-", color="C2")
    for s, x, y in zip(scales, fcd, acc):
      ax_trade.annotate(f"{s:g}", (x, y), textcoords="offset points", xytext=(4, 4), fontsize=8)
    ax_trade.set(xlabel="FCD (diversity and quality)", ylabel="conditional accuracy (fidelity)")
    fig.suptitle(f"{training}: {kind} guidance on test, n = {rows[0]['num_samples']}")
    fig.tight_layout()
    path = os.path.join(results_dir, plot_name(training, kind))
    fig.savefig(path, dpi=100)
    paths.append(path)
  return paths
