"""Guidance's trade-off curve from records: one model sampled at several guidance scales
(classifier-free w, or a noisy classifier's scale), its FCD and conditional accuracy against
the scale, as Dhariwal & Nichol (Fig. 4) and Ho & Salimans (Fig. 3) plot them.

Records made with `--setting=ddim:50:w=W` (or `:cls=S`) carry `guidance` = {kind, scale}
(`experiments.report`); `--tables` groups them by trained model and kind into a table here and
a plot (experiments/results/guidance_<model>_<kind>_<sampler>_n<n>.png).
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


# The fields a sweep's point needs: a record made without labels has no accuracy to plot.
NEEDED = ("fcd", "fcd_sd", "fcd_floor", "cond_accuracy", "cond_accuracy_ci95_low",
          "cond_accuracy_ci95_high", "min_class_share")


def unguided_sampler(record: dict) -> str:
  """The record's sampler name without its w= and cls= parts, e.g. 'ddim50 eta=1': the chain
  every point of one sweep shares."""
  return " ".join(p for p in record["sampler"].split() if not p.startswith(("w=", "cls=")))


SweepKey = tuple[str, str, str, int]  # (trained model, kind, unguided sampler, num_samples)


def sweeps(records: list[dict]) -> dict[SweepKey, list[dict]]:
  """(trained model's workdir name, guidance kind, unguided sampler, n) -> its records sorted by
  scale, one per scale (the last made, by name order, where two share one), for the groups
  with at least three scales (fewer make no curve)."""
  groups: dict[SweepKey, dict[float, dict]] = {}
  for r in sorted(records, key=lambda r: r.get("name", "")):
    if ("guidance" in r and r["guidance"]["kind"] in KINDS.values()
        and all(k in r for k in NEEDED)):
      key = (os.path.basename(r["workdir"]), r["guidance"]["kind"], unguided_sampler(r),
             r["num_samples"])
      groups.setdefault(key, {})[r["guidance"]["scale"]] = r
  return {k: [v[s] for s in sorted(v)] for k, v in sorted(groups.items()) if len(v) >= 3}


def plot_name(key: SweepKey) -> str:
  """The PNG a sweep's plot is saved as, beside the records."""
  training, kind, sampler, n = key
  slug = sampler.replace(" ", "_").replace("=", "").replace(".", "p")
  return f"guidance_{training}_{kind.replace('-', '_')}_{slug}_n{n}.png"


def sweep_tables(records: list[dict], suffix: str) -> list[str]:
  """Markdown lines: per sweep, FCD and conditional accuracy by guidance scale (the plot is
  named for the current records' sweeps, suffix "", the only ones plotted)."""
  out = []
  for key, rows in sweeps(records).items():
    training, kind, sampler, n = key
    plot = f"; plot: {plot_name(key)}" if not suffix else ""
    out += [f"**Guidance sweep: {training}, {kind}{suffix}** (test, n = {n}, {sampler}; FCD ± "
            f"95% bootstrap, floor {rows[0]['fcd_floor']:.1f}; conditional accuracy with its "
            f"Wilson interval{plot})", "",
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
  for key, rows in sweeps(records).items():
    training, kind, sampler, n = key
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
    fig.suptitle(f"{training}: {kind} guidance, {sampler}, on test, n = {n}")
    fig.tight_layout()
    path = os.path.join(results_dir, plot_name(key))
    fig.savefig(path, dpi=100)
    paths.append(path)
  return paths
