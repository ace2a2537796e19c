"""Where each diffusion model's likelihood bound goes: every term L_t of the variational bound,
measured on validation images, for one or more trained ddpm-family models side by side (improved
DDPM's Fig. 2 shape: the terms fall by orders of magnitude from t = 0, and a better likelihood
is won or lost at small t).

  python -m experiments.vlb_terms --workdirs=runs/ddpm,runs/iddpm [--num_images=32]
  python -m experiments.vlb_terms --workdirs=runs/ddpm,runs/iddpm --record=vlb_terms

Each model's bound is computed in full (all T terms, `losses.full_vlb`, one x_t per term and
image) on the first --num_images validation images: the total with its standard error over
images, the decoder term L_0, the prior L_T, the share of the bound in bands of t, and a plot
of the mean L_t against t (log scale) with the running sum. Paired over the same images, so the
difference of two totals is tested per image. --record writes
experiments/results/validation/<name>.json and .png (committed code only); without it the plot
goes to --output.
"""

import os
import sys

from absl import app, flags

from types import SimpleNamespace

# Flag holders, filled by define_flags() only when this file runs as a program: tests import
# this module into a process that also holds other tools' flags (absl refuses a second --seed).
_F = SimpleNamespace()


def define_flags() -> None:
  """The command line's flags (called only when this file runs as a program)."""
  _F.workdirs = flags.DEFINE_list("workdirs", None, "Trained ddpm-family workdirs to compare.")
  _F.num = flags.DEFINE_integer("num_images", 32, "Validation images (the bound of each, in full).")
  _F.seed = flags.DEFINE_integer("seed", 0, "Seed of the x_t draws (the same for every model).")
  _F.record = flags.DEFINE_string("record", None, "Write validation record <name>.json and .png.")
  _F.output = flags.DEFINE_string("output", "vlb_terms.png", "The plot, when not recording.")

# Edges of the bands of t the bound is split into (fractions of T; with T = 1000: L_0 alone,
# t in [1, 10), [10, 100), [100, 1000)): where the likelihood is made.
BAND_EDGES = (0.0, 0.001, 0.01, 0.1, 1.0)


def model_terms(workdir: str, num_images: int, seed: int) -> dict:
  """The full bound of a trained ddpm-family model on the first `num_images` validation images:
  per-image totals [n] and the mean term per t [T], in bits/dim."""
  import jax
  import numpy as np
  from jaxgen.data.pipeline import SplitData
  from jaxgen.diffusion.components import make_spec
  from jaxgen.errors import UserError
  from jaxgen.train.restore import restore_trained
  trained = restore_trained(workdir)
  config = trained.config
  if trained.family.vlb_terms is None:
    raise UserError(f"{workdir} holds a {config.family} model; vlb_terms reads ddpm-family "
                    "models (ddpm, iddpm, cfg)")
  spec = make_spec(config)
  conditional = trained.family.conditional
  split = SplitData.open(config.dataset, "validation", config.get("data_dir") or None)
  batch = next(iter(split.eval_batches(num_images, 1)))
  out = trained.family.vlb_terms(trained.state, batch["image"][:num_images],
                                 batch["label"][:num_images] if conditional else None,
                                 jax.random.key(seed))
  vb = out["vb"]  # [n, T]
  return {"total_bpd": out["total_bpd"], "conditional": conditional,
          "prior_bpd": float(np.mean(out["prior_bpd"])), "term_mean": vb.mean(axis=0),
          "steps": trained.step, "schedule": config.diffusion.schedule,
          "var_type": spec.var_type.value, "loss_type": spec.loss_type.value}


def summary(name: str, m: dict) -> dict:
  """A model's figures for the record: total with SE, L_0, L_T and the bands' shares."""
  import numpy as np
  from jaxgen.metrics.intervals import mean_and_se
  total, se = mean_and_se(m["total_bpd"])
  terms = m["term_mean"]
  T = len(terms)
  edges = np.unique(np.clip(np.round(np.asarray(BAND_EDGES) * T), 0, T).astype(int))
  bands = {f"t in [{lo}, {hi})": float(terms[lo:hi].sum()) for lo, hi in zip(edges, edges[1:])}
  # A conditional model's bound is -log p(x|y): named so, never paired with -log p(x).
  return {"name": name, "conditional": m["conditional"], "images": len(m["total_bpd"]),
          "steps": m["steps"], "schedule": m["schedule"], "var_type": m["var_type"],
          "loss_type": m["loss_type"], "total_bpd": total, "total_bpd_se": se,
          "decoder_L0_bpd": float(terms[0]), "prior_LT_bpd": m["prior_bpd"],
          "bands_bpd": bands,
          # The mean term at 24 log-spaced t: the plot's curve, small enough to keep.
          "term_mean_at": {str(int(t)): float(terms[int(t)]) for t in
                           np.unique(np.geomspace(1, T - 1, 24).astype(int))} | {"0": float(terms[0])}}


def plot(models: dict[str, dict], path: str) -> None:
  """Mean L_t against t (log-log) and the running sum of the bound, one line per model."""
  import numpy as np
  from matplotlib.backends.backend_agg import FigureCanvasAgg
  from matplotlib.figure import Figure
  fig = Figure(figsize=(9, 3.4))
  FigureCanvasAgg(fig)
  ax_terms, ax_sum = fig.subplots(1, 2)
  for name, m in models.items():
    t = np.arange(len(m["term_mean"]))
    ax_terms.plot(t + 1, np.maximum(m["term_mean"], 1e-9), label=name, lw=1)
    ax_sum.plot(t + 1, np.cumsum(m["term_mean"]), label=name, lw=1)
  ax_terms.set(xscale="log", yscale="log", xlabel="t + 1", ylabel="mean L_t (bits/dim)")
  ax_sum.set(xscale="log", xlabel="t + 1", ylabel="sum of L_s for s <= t (bits/dim)")
  ax_terms.legend(fontsize=8)
  fig.tight_layout()
  fig.savefig(path, dpi=100)


def main(argv: list[str]) -> None:
  del argv
  from experiments import backend
  backend.prepare()  # before the backend starts
  from experiments import records
  from jaxgen import provenance, storage
  from jaxgen.errors import UserError
  from jaxgen.metrics.compare import paired_difference
  try:
    if not _F.workdirs.value:
      raise UserError("give --workdirs=DIR[,DIR...] (trained ddpm-family models)")
    if _F.num.value <= 0:
      raise UserError(f"--num_images must be positive, got {_F.num.value}")
    names = [os.path.basename(os.path.normpath(w)) for w in _F.workdirs.value]
    if len(set(names)) != len(names):
      raise UserError(f"--workdirs name models by their folders, and two share one: {names}; "
                      "give each model a folder of its own name")
    if _F.record.value:
      records.check_publishable(records.VALIDATION_DIR)
      for w in _F.workdirs.value:
        records.check_publishable(records.VALIDATION_DIR, provenance.read(storage.resolve(w)))
    models = {}
    for name, w in zip(names, _F.workdirs.value):
      print(f"the bound of {w} on {_F.num.value} validation images, all T terms ...", flush=True)
      models[name] = model_terms(w, _F.num.value, _F.seed.value)
  except UserError as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(2)
  rows = [summary(n, m) for n, m in models.items()]
  paired = []
  for i, a in enumerate(names):
    for b in names[i + 1:]:
      if models[a]["conditional"] != models[b]["conditional"]:
        continue  # -log p(x|y) and -log p(x) are different quantities
      d = paired_difference(models[a]["total_bpd"], models[b]["total_bpd"])
      paired.append({"a": a, "b": b, **{k: d[k] for k in (
          "difference", "difference_se", "difference_ci95_low", "difference_ci95_high",
          "verdict")}})
  for r in rows:
    what = "-log p(x|y)" if r["conditional"] else "-log p(x)"
    print(f"{r['name']}: {what} <= {r['total_bpd']:.4f} +- {r['total_bpd_se']:.4f} (SE) bits/dim; "
          f"L_0 {r['decoder_L0_bpd']:.4f}, L_T {r['prior_LT_bpd']:.5f}; by band: " +
          ", ".join(f"{k} {v:.4f}" for k, v in r["bands_bpd"].items()))
  for p in paired:
    print(f"{p['a']} - {p['b']}: {p['difference']:+.4f} bits/dim ({p['difference_ci95_low']:+.4f}"
          f" to {p['difference_ci95_high']:+.4f}), paired over the same images: {p['verdict']}")
  if _F.record.value:
    path = os.path.join(records.VALIDATION_DIR, _F.record.value + ".png")
    plot(models, path)
    record = {"name": _F.record.value, "kind": "validation", "split": "validation",
              "num_images": rows[0]["images"], "seed": _F.seed.value, "models": rows, "paired": paired,
              "plot": os.path.basename(path),
              "workdirs": [storage.resolve(w) for w in _F.workdirs.value],
              "trained": {n: provenance.read(storage.resolve(w))
                          for n, w in zip(names, _F.workdirs.value)}}
    records.write(record, records.VALIDATION_DIR,
                  "python -m experiments.vlb_terms " + " ".join(sys.argv[1:]))
    print(f"wrote {os.path.join(records.VALIDATION_DIR, _F.record.value)}.json and .png")
  else:
    plot(models, _F.output.value)
    print(f"wrote {_F.output.value}")


if __name__ == "__main__":
  define_flags()
  app.run(main)
