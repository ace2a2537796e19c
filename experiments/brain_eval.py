"""Scores MinD-Vis reconstructions as the paper does, with the controls it lacks.

For a trained `mindvis` run: reconstructs every test stimulus from its (averaged) signal and
reports n-way top-1 semantic accuracy (n = 2, 5, 10; the scoring classifier in place of the
ImageNet ViT), pair-wise identification by pixel correlation and by SSIM, and the FCD of the
reconstructions with its floor and ceiling at the same n; the ridge-regression label decoder on
the same signals beside it; and, unless --snrs is empty, 10-way accuracy and the ridge decoder
against the test signals' SNR (the forward model rerun at each SNR; the model is the one
trained at the default). --compare adds rows for other runs (the pretraining ablation, the
shuffled-pairs control). Writes brain_eval.json, brain_eval.md and a grid of the stimuli (odd
rows) above their reconstructions (even rows).

  python -m experiments.brain_eval --workdir=runs/mindvis \\
      --compare=no_pretraining=runs/mindvis_scratch,shuffled_pairs=runs/mindvis_shuffled
"""

import json
import os
import sys
import tempfile
from types import SimpleNamespace

from absl import app, flags
import numpy as np

# Flags are defined when run as a program, not on import (tests import this module beside
# other launchers that define the same names).
_F = SimpleNamespace()


def define_flags() -> None:
  """Defines the command-line flags."""
  _F.workdir = flags.DEFINE_string("workdir", None, "A trained mindvis run.")
  _F.compare = flags.DEFINE_string("compare", "",
                                   "name=workdir,... of other mindvis runs to score.")
  _F.split = flags.DEFINE_string("split", "test", "Split to reconstruct (tune on validation).")
  _F.ways = flags.DEFINE_string("ways", "2,5,10", "n of the n-way top-1 accuracies.")
  _F.trials = flags.DEFINE_integer("trials", 200,
                                   "Random draws of the n - 1 other classes per item.")
  _F.snrs = flags.DEFINE_string("snrs", "0.01,0.025,0.1,0.5",
                                "Test-signal SNRs of the sweep; empty to skip it.")
  _F.out = flags.DEFINE_string("output_dir", None,
                               "Where to write (default: <workdir>/brain_eval).")
  _F.seed = flags.DEFINE_integer("seed", 0, "Sampling seed.")
  _F.guidance = flags.DEFINE_float("guidance_scale", None, "Classifier-free guidance weight w "
                                   "(default: each run's config.sampler.guidance_scale).")


def reconstruct(trained, signals: np.ndarray, seed: int, chunk: int = 50,
                guidance_scale: float | None = None) -> np.ndarray:
  """The run's reconstructions [n, h, w, c] in [0, 1] of signals [n, v]."""
  import functools
  import jax
  fn = jax.jit(functools.partial(trained.family.reconstruct, guidance_scale=guidance_scale))
  rng = jax.random.key(seed)
  return np.concatenate([np.asarray(fn(trained.state, {"signal": signals[i:i + chunk]},
                                       jax.random.fold_in(rng, i)))
                         for i in range(0, len(signals), chunk)])


def score(scorer, recon: np.ndarray, stimuli: np.ndarray, labels: np.ndarray,
          ways: list[int], trials: int) -> dict[str, float]:
  """Every figure of one run's reconstructions of the test stimuli."""
  from jaxgen.brain import metrics
  from jaxgen.metrics.intervals import mean_and_se, wilson_interval
  logits, _ = scorer.logits_and_features(recon)
  probs = np.exp(logits - logits.max(1, keepdims=True))
  probs /= probs.sum(1, keepdims=True)
  out: dict[str, float] = {"num": len(recon)}
  for n in ways:
    per_item = metrics.n_way_top1(probs, labels, n, trials if n < probs.shape[1] else 1)
    mean, se = mean_and_se(per_item)
    out[f"top1_{n}way"], out[f"top1_{n}way_se"], out[f"top1_{n}way_chance"] = mean, se, 1 / n
    if n == probs.shape[1]:  # one Bernoulli trial per item: a binomial interval
      out[f"top1_{n}way_ci95_low"], out[f"top1_{n}way_ci95_high"] = wilson_interval(
          int(per_item.sum()), len(per_item))
  for name, sim in (("pixcorr", metrics.pixel_correlations(recon, stimuli)),
                    ("ssim", metrics.ssim_matrix(recon, stimuli))):
    out[f"pairwise_{name}"], out[f"pairwise_{name}_se"] = mean_and_se(
        metrics.pairwise_identification(sim))
    out[f"mean_{name}"] = float(np.mean(np.diag(sim)))
  report = scorer.report(recon, labels)
  out.update({k: report[k] for k in ("fcd", "fcd_sd", "fcd_floor", "fcd_floor_sd", "fcd_ceiling")
              if k in report})
  return out


def ridge(train, val, test_signals, test_labels, refit: bool = True) -> dict[str, float]:
  """The ridge label decoder (alpha tuned on validation) on the test signals; without
  `refit` (scoring validation itself) it is fitted on train alone."""
  from jaxgen.brain import metrics
  from jaxgen.metrics.intervals import wilson_interval
  predict, alpha = metrics.ridge_decoder(train["signal"], train["label"], val["signal"],
                                         val["label"], refit=refit)
  correct = int(np.sum(predict(test_signals) == test_labels))
  low, high = wilson_interval(correct, len(test_labels))
  return {"ridge_accuracy": correct / len(test_labels), "ridge_ci95_low": low,
          "ridge_ci95_high": high, "ridge_alpha": alpha}


def snr_sweep(trained, subject: str, snrs: list[float], scorer, seed: int) -> list[dict]:
  """10-way accuracy and the ridge decoder with test signals at each SNR (train signals of
  the same SNR for the ridge and for the normalisation statistics)."""
  from jaxgen.data import brain
  rows = []
  for snr in snrs:
    with tempfile.TemporaryDirectory() as tmp:
      brain.write_god(tmp, (subject,), snr=snr)
      g = brain.load_god(tmp, subject)
    train = {"signal": g["train_signals"], "label": g["train_labels"]}
    val = {"signal": g["validation_signals"], "label": g["validation_labels"]}
    recon = reconstruct(trained, g["test_signals"], seed, guidance_scale=_F.guidance.value)
    logits, _ = scorer.logits_and_features(recon)
    # The loader's order, which is not the tfds split's: its own labels.
    labels = g["test_labels"]
    correct = int(np.sum(logits.argmax(1) == labels))
    from jaxgen.metrics.intervals import wilson_interval
    low, high = wilson_interval(correct, len(labels))
    rows.append({"snr": snr, "top1_10way": correct / len(labels), "top1_10way_ci95_low": low,
                 "top1_10way_ci95_high": high,
                 **ridge(train, val, g["test_signals"], g["test_labels"])})
    print(f"snr {snr}: 10-way {rows[-1]['top1_10way']:.2f}, ridge "
          f"{rows[-1]['ridge_accuracy']:.2f}", flush=True)
  return rows


def markdown(rows: dict[str, dict], ridge_row: dict, sweep: list[dict]) -> str:
  """The tables of brain_eval.md."""
  lines = ["| run | 2-way | 5-way | 10-way (95% interval) | pair-wise pixel corr | "
           "pair-wise SSIM | FCD (floor / ceiling) |", "|---|---:|---:|---:|---:|---:|---:|"]
  for name, r in rows.items():
    lines.append(
        f"| {name} | {r['top1_2way']:.3f} ± {r['top1_2way_se']:.3f} | "
        f"{r['top1_5way']:.3f} ± {r['top1_5way_se']:.3f} | {r['top1_10way']:.2f} "
        f"({r['top1_10way_ci95_low']:.2f}-{r['top1_10way_ci95_high']:.2f}) | "
        f"{r['pairwise_pixcorr']:.3f} ± {r['pairwise_pixcorr_se']:.3f} | "
        f"{r['pairwise_ssim']:.3f} ± {r['pairwise_ssim_se']:.3f} | "
        f"{r['fcd']:.1f} ± {r['fcd_sd']:.1f} ({r.get('fcd_floor', float('nan')):.1f} / "
        f"{r['fcd_ceiling']:.1f}) |")
  lines.append(f"| chance | 0.500 | 0.200 | 0.10 | 0.500 | 0.500 | |")
  lines += ["", f"Ridge label decoder on the same test signals: {ridge_row['ridge_accuracy']:.2f} "
            f"({ridge_row['ridge_ci95_low']:.2f}-{ridge_row['ridge_ci95_high']:.2f}), alpha "
            f"{ridge_row['ridge_alpha']:g} chosen on validation."]
  if sweep:
    lines += ["", "| test-signal SNR | 10-way top-1 (95% interval) | ridge decoder |",
              "|---:|---:|---:|"]
    lines += [f"| {s['snr']:g} | {s['top1_10way']:.2f} ({s['top1_10way_ci95_low']:.2f}-"
              f"{s['top1_10way_ci95_high']:.2f}) | {s['ridge_accuracy']:.2f} "
              f"({s['ridge_ci95_low']:.2f}-{s['ridge_ci95_high']:.2f}) |" for s in sweep]
  return "\n".join(lines) + "\n"


def main(argv: list[str]) -> None:
  """Scores --workdir (and --compare runs) on --split; writes json, markdown and a grid."""
  del argv
  from experiments import backend
  backend.prepare()
  from jaxgen import images
  from jaxgen.data.pipeline import SplitData
  from jaxgen.errors import UserError
  from jaxgen.train import loop
  from jaxgen.train.restore import restore_trained
  try:
    if not _F.workdir.value:
      raise UserError("--workdir is required: a trained mindvis run")
    runs = {"mindvis": _F.workdir.value}
    for item in filter(None, _F.compare.value.split(",")):
      name, sep, path = item.partition("=")
      if not sep:
        raise UserError(f"--compare takes name=workdir items, got {item!r}")
      runs[name] = path
    ways = [int(w) for w in _F.ways.value.split(",")]
    from experiments import records
    from jaxgen import provenance
    out = _F.out.value or os.path.join(_F.workdir.value, "brain_eval")
    for path in runs.values():  # under experiments/results/: committed code only
      records.check_publishable(out, provenance.read(os.path.abspath(path)))
    trained = {name: restore_trained(path) for name, path in runs.items()}
    for name, t in trained.items():
      if t.config.family != "mindvis":
        raise UserError(f"{runs[name]} holds a {t.config.family} run, not a mindvis one")
    config = trained["mindvis"].config
    data_dir = config.get("data_dir") or None
    split = {s: SplitData.open(config.dataset, s, data_dir).arrays()
             for s in ("train", "validation", _F.split.value)}
    test = split[_F.split.value]
    # The embedded digits' scorer: the brain test stimuli are embedded_digits test digits,
    # which it never trained on; FCD against embedded_digits test, floor from validation.
    scorer = loop.trained_scorer("embedded_digits", data_dir, reference_split="test")
    rows, recons = {}, {}
    for name, t in trained.items():
      recons[name] = reconstruct(t, test["signal"], _F.seed.value,
                                 guidance_scale=_F.guidance.value)
      rows[name] = score(scorer, recons[name], test["image"], test["label"], ways,
                         _F.trials.value)
      print(name, json.dumps({k: round(v, 4) for k, v in rows[name].items()}), flush=True)
    ridge_row = ridge(split["train"], split["validation"], test["signal"], test["label"],
                      refit=_F.split.value != "validation")
    print("ridge", ridge_row, flush=True)
    snrs = [float(s) for s in _F.snrs.value.split(",") if s]
    sweep = snr_sweep(trained["mindvis"], config.dataset.partition("/")[2], snrs, scorer,
                      _F.seed.value) if snrs else []
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "brain_eval.json"), "w") as f:
      commit = provenance.describe(provenance.checkout_state())
      trained_commits = list(dict.fromkeys(
          provenance.describe(e) for w in runs.values()
          for e in provenance.read(os.path.abspath(w))))
      json.dump({"commit": commit, "command": " ".join(sys.argv),
                 "trained_commits": trained_commits, "scorer_digest": scorer.digest,
                 "runs": runs, "split": _F.split.value, "guidance_scale": _F.guidance.value,
                 "rows": rows, "ridge": ridge_row,
                 "snr_sweep": sweep}, f, indent=1)
    with open(os.path.join(out, "brain_eval.md"), "w") as f:
      f.write(markdown(rows, ridge_row, sweep))
    # Stimuli and reconstructions in alternating rows of 10.
    stim, rec = test["image"], recons["mindvis"]
    rows_of = [a[i:i + 10] for i in range(0, len(stim), 10) for a in (stim, rec)]
    grid = images.save_grid(os.path.join(out, "reconstructions.png"), np.concatenate(rows_of),
                            rows=len(rows_of))
  except UserError as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(2)
  print(open(os.path.join(out, "brain_eval.md")).read())
  print(f"wrote {out}/brain_eval.json, brain_eval.md and {grid}")


if __name__ == "__main__":
  define_flags()
  app.run(main)
