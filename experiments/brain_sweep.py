"""The SNR sweep of experiments.brain_eval (issue 37): its --sweep flag, one row per SNR of
every run's and baseline's figures with their paired differences, its tables and its plot."""

from typing import Callable

# The figures the sweep keeps (n: the number of test stimuli).
SWEEP_FIGURES = ("top1_10way", "id{n}_features", "id{n}_pixcorr")


def parse_sweep(spec: str) -> dict[float, dict[str, str]]:
  """{snr: {name: workdir}} of --sweep items "SNR=workdir" (the run named mindvis) or
  "SNR:name=workdir"."""
  from jaxgen.errors import UserError
  out: dict[float, dict[str, str]] = {}
  for item in filter(None, spec.split(",")):
    key, sep, path = item.partition("=")
    snr, _, name = key.partition(":")
    try:
      value = float(snr)
    except ValueError:
      value = 0.0
    if not sep or not path or value <= 0:
      raise UserError(f"--sweep takes SNR=workdir or SNR:name=workdir items with a positive "
                      f"SNR, got {item!r}")
    out.setdefault(value, {})[name or "mindvis"] = path
  return out


def sweep_row(snr: float, rows: dict[str, dict], paired: list[dict]) -> dict:
  """One SNR of the sweep: each run's and baseline's 10-way top-1 and 50-way identifications
  (mean and SE over the stimuli), and the paired differences at that SNR."""
  n = int(next(iter(rows.values()))["num"])
  keys = [f.format(n=n) for f in SWEEP_FIGURES]
  return {"snr": snr, "num": n,
          "figures": {name: {k: r[k] for key in keys for k in (key, key + "_se") if k in r}
                      for name, r in rows.items()},
          "paired": [p for p in paired if p["figure"] in keys]}


def plot_sweep(sweep: list[dict], path: str) -> None:
  """10-way top-1 and 50-way identification by features against the single-trial SNR, one
  line per run and baseline with its standard error, chance dashed (matplotlib's Agg)."""
  from matplotlib.backends.backend_agg import FigureCanvasAgg
  from matplotlib.figure import Figure
  n = sweep[0]["num"]
  fig = Figure(figsize=(9, 3.4))
  FigureCanvasAgg(fig)
  names = list(dict.fromkeys(name for row in sweep for name in row["figures"]))
  for ax, key, label, chance in zip(fig.subplots(1, 2), ("top1_10way", f"id{n}_features"),
                                    ("10-way top-1 (semantic)", f"{n}-way identification "
                                     "(scorer features)"), (0.1, 1 / n)):
    for i, name in enumerate(names):
      points = [(row["snr"], row["figures"][name][key], row["figures"][name][key + "_se"])
                for row in sweep if key in row["figures"].get(name, {})]
      if points:
        x, y, se = zip(*points)
        ax.errorbar(x, y, yerr=se, fmt="o-", capsize=3, label=name, color=f"C{i}")
    ax.axhline(chance, color="grey", ls="--", label="chance")
    ax.set(xscale="log", xlabel="single-trial SNR", ylabel=label, ylim=(0, 1))
  fig.axes[0].legend(fontsize=7)
  fig.suptitle("Decoding against the signal's SNR (test, stage B and baselines retrained at "
               "each SNR)", fontsize=9)
  fig.tight_layout()
  fig.savefig(path, dpi=100)


def markdown_lines(sweep: list[dict], cell: Callable[[dict, str], str]) -> list[str]:
  """The sweep's two tables (figures by SNR and run; paired differences by SNR), as markdown
  lines led by a blank one; `cell` formats a figure with its SE."""
  lines: list[str] = []
  n = sweep[0]["num"]
  keys = [f.format(n=n) for f in SWEEP_FIGURES]
  lines += ["", "| single-trial SNR | run | 10-way top-1 | " f"{n}-way id. (features) | "
            f"{n}-way id. (pixels) |", "|---:|---|---:|---:|---:|"]
  lines += [f"| {row['snr']:g} | {name} | " + " | ".join(cell(r, k) for k in keys) + " |"
            for row in sweep for name, r in row["figures"].items()]
  lines += ["", "| single-trial SNR | run | against | figure | difference (95% interval) | "
            "verdict |", "|---:|---|---|---|---:|---|"]
  lines += [f"| {row['snr']:g} | {p['a']} | {p['b']} | {p['figure']} | {p['difference']:+.3f} "
            f"({p['difference_ci95_low']:+.3f} to {p['difference_ci95_high']:+.3f}) | "
            f"{p['verdict']} |" for row in sweep for p in row["paired"]]
  return lines
