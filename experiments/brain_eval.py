"""Scores MinD-Vis reconstructions as the paper does, against the baselines it must beat.

For a trained `mindvis` run: reconstructs every test stimulus from its (averaged) signal
--samples_per_stimulus times and reports, each averaged over a stimulus' samples: n-way top-1
semantic accuracy (n = 2, 5, 10) against the scoring classifier's class of the ground-truth
image (the paper's protocol, the digit scorer in place of the ImageNet ViT), 50-way
identification among the test stimuli by scorer features and by pixel correlation, pair-wise
identification by pixel correlation and by SSIM, and the FCD of the reconstructions with its
floor and ceiling. Beside them, the linear baselines on the same signals, each tuned on
validation (jaxgen.brain.baselines: ridge to labels, ridge to scorer features with retrieval
among the test stimuli, ridge to pixels), and every run against each baseline by the paired
difference of their per-stimulus values. --compare adds rows for other runs (the pretraining
ablation, the shuffled-pairs control). --sweep adds the SNR sweep: runs of stage B trained on
the paired signals at other single-trial SNRs (brain_digits/sbj_1_snr0p01 and the like), each
scored on its own SNR's test signals beside the baselines retrained at that SNR, paired;
the --workdir runs are its row at the default SNR. --baselines_only scores the baselines alone.
Writes brain_eval.json, brain_eval.md, a grid of the stimuli (odd rows) above their first
reconstructions (even rows) and, with --sweep, snr_sweep.png.

  python -m experiments.brain_eval --workdir=runs/mindvis \\
      --compare=no_pretraining=runs/mindvis_scratch,shuffled_pairs=runs/mindvis_shuffled \\
      --sweep=0.01=runs/mindvis_snr0p01,0.2=runs/mindvis_snr0p2
  python -m experiments.brain_eval --baselines_only --split=validation
"""

import json
import os
import sys
from types import SimpleNamespace

from absl import app, flags
import numpy as np

from experiments import brain_sweep

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
  _F.sweep = flags.DEFINE_string("sweep", "", "The SNR sweep: SNR=workdir (or "
                                 "SNR:name=workdir) items of mindvis runs trained on the "
                                 "brain_digits config of that SNR; the baselines are retrained "
                                 "on each. --workdir's runs are the sweep's row at their SNR.")
  _F.out = flags.DEFINE_string("output_dir", None,
                               "Where to write (default: <workdir>/brain_eval).")
  _F.seed = flags.DEFINE_integer("seed", 0, "Sampling seed.")
  _F.guidance = flags.DEFINE_float("guidance_scale", None, "Classifier-free guidance weight w "
                                   "(default: each run's config.sampler.guidance_scale).")
  _F.samples = flags.DEFINE_integer("samples_per_stimulus", 4, "Reconstructions of each "
                                    "stimulus; every figure averages over them.")
  _F.baselines_only = flags.DEFINE_bool("baselines_only", False, "Score the linear baselines "
                                        "alone (no trained run) on --dataset.")
  _F.dataset = flags.DEFINE_string("dataset", "brain_digits/sbj_1",
                                   "With --baselines_only: the paired dataset.")


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


def score(scorer, recons: np.ndarray, stimuli: np.ndarray, ways: list[int],
          trials: int) -> tuple[dict[str, float], dict[str, np.ndarray]]:
  """The paper's figures for reconstructions [k, n, h, w, c] (k samples of each of the n
  stimuli): n-way top-1 against the scorer's class of the ground-truth image, identification
  among the n stimuli by scorer features and by pixel correlation, pair-wise identification,
  each averaged over the k samples of a stimulus; FCD of all k n reconstructions. Returns the
  figures and the per-stimulus values paired tests read."""
  from jaxgen.brain import metrics
  from jaxgen.metrics.intervals import mean_and_se
  k, n = recons.shape[:2]
  stim_logits, stim_features = scorer.logits_and_features(stimuli)
  reference = stim_logits.argmax(1)  # the scorer's class of each ground-truth image
  per_item: dict[str, list[np.ndarray]] = {}
  for sample in recons:  # [n, h, w, c]
    logits, features = scorer.logits_and_features(sample)
    probs = np.exp(logits - logits.max(1, keepdims=True))
    probs /= probs.sum(1, keepdims=True)
    values = {f"top1_{w}way": metrics.n_way_top1(probs, reference, w,
                                                  trials if w < probs.shape[1] else 1)
              for w in ways}
    values[f"id{n}_features"] = metrics.identification(
        metrics.correlation_matrix(features, stim_features))
    pixcorr = metrics.correlation_matrix(sample, stimuli)
    values[f"id{n}_pixcorr"] = metrics.identification(pixcorr)
    values["pairwise_pixcorr"] = metrics.pairwise_identification(pixcorr)
    values["pairwise_ssim"] = metrics.pairwise_identification(metrics.ssim_matrix(sample,
                                                                                 stimuli))
    for key, v in values.items():
      per_item.setdefault(key, []).append(v)
  averaged = {key: np.mean(v, axis=0) for key, v in per_item.items()}  # [n] each
  out: dict[str, float] = {"num": n, "samples_per_stimulus": k}
  for key, v in averaged.items():
    out[key], out[key + "_se"] = mean_and_se(v)
  report = scorer.report(recons.reshape((k * n,) + recons.shape[2:]))
  out.update({key: report[key] for key in ("fcd", "fcd_sd", "fcd_floor", "fcd_floor_sd",
                                           "fcd_ceiling") if key in report})
  return out, averaged


def baselines(scorer, train: dict, val: dict, test: dict, ways: list[int],
              trials: int) -> dict[str, tuple[dict, dict]]:
  """The linear baselines on the same signals (jaxgen.brain.baselines), each tuned on
  validation and scored as a run is: {name: (figures, per-stimulus values)}. The label
  decoder's output is a class, scored by 10-way top-1 alone; feature retrieval gives the test
  stimulus it retrieves (its class for the semantic figure); the pixel decoder's images are
  scored whole."""
  from jaxgen.brain import baselines as linear
  from jaxgen.brain import metrics
  from jaxgen.metrics.intervals import mean_and_se
  _, train_features = scorer.logits_and_features(train["image"])
  val_logits, val_features = scorer.logits_and_features(val["image"])
  test_logits, test_features = scorer.logits_and_features(test["image"])
  reference = test_logits.argmax(1)
  n = len(reference)
  rows = {}
  labels, alpha = linear.label_decoder(train["signal"], train["label"], val["signal"],
                                       val_logits.argmax(1))
  hits = (labels(test["signal"]) == reference).astype(np.float64)
  rows["ridge_labels"] = ({"num": n, "alpha": alpha, **dict(zip(
      ("top1_10way", "top1_10way_se"), mean_and_se(hits)))}, {"top1_10way": hits})
  features, alpha = linear.feature_decoder(train["signal"], train_features, val["signal"],
                                           val_features)
  similarity = metrics.correlation_matrix(features(test["signal"]), test_features)
  retrieved = similarity.argmax(1)
  values = {f"id{n}_features": metrics.identification(similarity),
            "top1_10way": (reference[retrieved] == reference).astype(np.float64)}
  figures = {"num": n, "alpha": alpha}
  for key, v in values.items():
    figures[key], figures[key + "_se"] = mean_and_se(v)
  rows["ridge_features_retrieval"] = (figures, values)
  pixels, alpha = linear.pixel_decoder(train["signal"], train["image"], val["signal"],
                                       val["image"])
  figures, values = score(scorer, pixels(test["signal"])[None], test["image"], ways, trials)
  rows["ridge_pixels"] = ({**figures, "alpha": alpha}, values)
  return rows


def paired_comparisons(per_item: dict[str, dict], baseline_names: list[str]) -> list[dict]:
  """Each run against each baseline on the same stimuli, per figure both have, then the
  mindvis run against each other run (the pretraining ablation, the shuffled control): the
  paired difference of their per-stimulus values (jaxgen.metrics.compare)."""
  from jaxgen.metrics.compare import paired_difference
  runs = [name for name in per_item if name not in baseline_names]
  pairs = [(run, base) for run in runs for base in baseline_names]
  if "mindvis" in runs:
    pairs += [("mindvis", other) for other in runs if other != "mindvis"]
  return [{"a": a, "b": b, "figure": key,
           **paired_difference(per_item[a][key], per_item[b][key])}
          for a, b in pairs for key in sorted(set(per_item[a]) & set(per_item[b]))]


def evaluate(trained: dict, split: dict, scorer, ways: list[int], trials: int, samples: int,
             seed: int) -> tuple[dict, dict, dict, list[dict]]:
  """Every trained run and every linear baseline (retrained on `split`'s train signals and
  tuned on its validation ones) on `split`'s test signals: (figures by name, per-stimulus
  values by name, reconstructions [k, n, h, w, c] by run, `paired_comparisons`)."""
  from jaxgen.errors import UserError
  test = split["test"]
  rows, per_item, recons = {}, {}, {}
  for name, t in trained.items():
    recons[name] = np.stack([reconstruct(t, test["signal"], seed + j,
                                         guidance_scale=_F.guidance.value)
                             for j in range(samples)])  # [k, n, h, w, c]
    rows[name], per_item[name] = score(scorer, recons[name], test["image"], ways, trials)
    print(name, json.dumps({k: round(v, 4) for k, v in rows[name].items()}), flush=True)
  linear = baselines(scorer, split["train"], split["validation"], test, ways, trials)
  for name, (figures, values) in linear.items():
    if name in rows:
      raise UserError(f"run name {name!r} is a baseline's; name the run otherwise")
    rows[name], per_item[name] = figures, values
    print(name, json.dumps({k: round(v, 4) for k, v in figures.items()}), flush=True)
  return rows, per_item, recons, paired_comparisons(per_item, list(linear))


def columns(n: int) -> tuple[tuple[str, str, float], ...]:
  """(figure key, heading, chance) of the main table, for n test stimuli."""
  return (("top1_10way", "10-way top-1", 0.1), ("top1_5way", "5-way", 0.2),
          ("top1_2way", "2-way", 0.5), (f"id{n}_features", f"{n}-way id. (features)", 1 / n),
          (f"id{n}_pixcorr", f"{n}-way id. (pixels)", 1 / n),
          ("pairwise_pixcorr", "pair-wise pixel corr", 0.5),
          ("pairwise_ssim", "pair-wise SSIM", 0.5))


def markdown(rows: dict[str, dict], paired: list[dict], sweep: list[dict]) -> str:
  """The tables of brain_eval.md: every run and baseline (mean ± SE over the stimuli), the
  paired differences (each run against each baseline, mindvis against each other run) and the
  SNR sweep."""
  cell = lambda r, k: f"{r[k]:.3f} ± {r[k + '_se']:.3f}" if k in r else ""
  cols = columns(int(next(iter(rows.values()))["num"]))
  lines = ["| run | " + " | ".join(name for _, name, _ in cols) + " | FCD (floor / ceiling) |",
           "|---|" + "---:|" * (len(cols) + 1)]
  for name, r in rows.items():
    fcd = (f"{r['fcd']:.1f} ± {r['fcd_sd']:.1f} ({r.get('fcd_floor', float('nan')):.1f} / "
           f"{r['fcd_ceiling']:.1f})" if "fcd" in r else "")
    lines.append(f"| {name} | " + " | ".join(cell(r, k) for k, _, _ in cols) + f" | {fcd} |")
  lines.append("| chance | " + " | ".join(f"{c:.3f}" for _, _, c in cols) + " | |")
  if paired:
    lines += ["", "| run | against | figure | difference (95% interval) | verdict |",
              "|---|---|---|---:|---|"]
    lines += [f"| {p['a']} | {p['b']} | {p['figure']} | {p['difference']:+.3f} "
              f"({p['difference_ci95_low']:+.3f} to {p['difference_ci95_high']:+.3f}) | "
              f"{p['verdict']} |" for p in paired]
  if sweep:
    lines += brain_sweep.markdown_lines(sweep, cell)
  return "\n".join(lines) + "\n"


def main(argv: list[str]) -> None:
  """Scores --workdir (and --compare runs) and the baselines on --split; writes json, markdown
  and a grid."""
  del argv
  from experiments import backend
  backend.prepare()
  from jaxgen import images
  from jaxgen.data import brain
  from jaxgen.data.pipeline import SplitData
  from jaxgen.errors import UserError
  from jaxgen.train import loop
  from jaxgen.train.restore import restore_trained
  try:
    if not _F.workdir.value and not _F.baselines_only.value:
      raise UserError("--workdir is required (a trained mindvis run), or --baselines_only")
    runs = {"mindvis": _F.workdir.value} if _F.workdir.value else {}
    for item in filter(None, _F.compare.value.split(",")):
      name, sep, path = item.partition("=")
      if not sep:
        raise UserError(f"--compare takes name=workdir items, got {item!r}")
      runs[name] = path
    if _F.baselines_only.value:
      runs = {}
    ways = [int(w) for w in _F.ways.value.split(",")]
    if _F.samples.value < 1:
      raise UserError(f"--samples_per_stimulus must be at least 1, got {_F.samples.value}")
    from experiments import records
    from jaxgen import provenance, storage
    out = _F.out.value or (os.path.join(_F.workdir.value, "brain_eval") if _F.workdir.value
                           else os.path.join("runs", "brain_eval_baselines"))
    sweep_runs = brain_sweep.parse_sweep(_F.sweep.value)
    if sweep_runs and "mindvis" not in runs:
      raise UserError("--sweep needs --workdir (the default SNR's row)")
    # Every run's workdir, by name (the --workdir and --compare runs) or by (snr, name).
    paths = {**runs, **{(snr, name): path for snr, named in sweep_runs.items()
                        for name, path in named.items()}}
    records.check_publishable(out)
    for path in paths.values():  # under experiments/results/: committed code only
      records.check_publishable(out, provenance.read(storage.resolve(path)))
    restored = {key: restore_trained(path) for key, path in paths.items()}
    from experiments.report import check_finished
    for key, t in restored.items():
      check_finished(t, paths[key], out)
      if t.config.family != "mindvis":
        raise UserError(f"{paths[key]} holds a {t.config.family} run, not a mindvis one")
      if isinstance(key, tuple) and brain.dataset_snr(t.config.dataset) != key[0]:
        raise UserError(f"--sweep names {paths[key]} at SNR {key[0]:g}, but it trained on "
                        f"{t.config.dataset} (SNR {brain.dataset_snr(t.config.dataset):g})")
    trained = {name: restored[name] for name in runs}
    dataset = trained["mindvis"].config.dataset if "mindvis" in trained else _F.dataset.value
    data_dir = (trained["mindvis"].config.get("data_dir") or None) if trained else None

    def open_splits(name: str) -> dict[str, dict]:
      """train, validation and the scored split (also as "test") of dataset `name`."""
      arrays = {s: SplitData.open(name, s, data_dir).arrays()
                for s in ("train", "validation", _F.split.value)}
      return {**arrays, "test": arrays[_F.split.value]}

    split = open_splits(dataset)
    test = split["test"]
    # The embedded digits' scorer: the brain test stimuli are embedded_digits test digits,
    # which it never trained on; FCD against embedded_digits test, floor from validation.
    scorer = loop.trained_scorer("embedded_digits", data_dir, reference_split="test")
    rows, per_item, recons, paired = evaluate(trained, split, scorer, ways, _F.trials.value,
                                              _F.samples.value, _F.seed.value)
    if _F.split.value == "validation":
      print("note: the baselines are tuned on validation and scored on it here: for tuning "
            "only, not a result", flush=True)
    sweep = []
    if sweep_runs:
      sweep.append(brain_sweep.sweep_row(brain.dataset_snr(dataset), rows, paired))
    for snr, named in sorted(sweep_runs.items()):
      print(f"snr {snr:g}: {', '.join(named)}", flush=True)
      runs_at = {name: restored[(snr, name)] for name in named}
      split_at = open_splits(next(iter(runs_at.values())).config.dataset)
      at_rows, _, _, at_paired = evaluate(runs_at, split_at, scorer, ways, _F.trials.value,
                                          _F.samples.value, _F.seed.value)
      sweep.append(brain_sweep.sweep_row(snr, at_rows, at_paired))
    sweep.sort(key=lambda row: row["snr"])
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "brain_eval.json"), "w") as f:
      commit = provenance.describe(provenance.checkout_state())
      trained_commits = list(dict.fromkeys(
          provenance.describe(e) for w in paths.values()
          for e in provenance.read(storage.resolve(w))))
      json.dump({"commit": commit, "command": " ".join(sys.argv), "dataset": dataset,
                 "trained_commits": trained_commits, "scorer_digest": scorer.digest,
                 "runs": runs, "split": _F.split.value, "guidance_scale": _F.guidance.value,
                 "sweep_runs": {f"{snr:g}": named for snr, named in sweep_runs.items()},
                 "samples_per_stimulus": _F.samples.value, "rows": rows, "paired": paired,
                 "snr_sweep": sweep}, f, indent=1)
    with open(os.path.join(out, "brain_eval.md"), "w") as f:
      f.write(markdown(rows, paired, sweep))
    if sweep:
      brain_sweep.plot_sweep(sweep, os.path.join(out, "snr_sweep.png"))
    grid = None
    if "mindvis" in recons:  # stimuli and first reconstructions in alternating rows of 10
      stim, rec = test["image"], recons["mindvis"][0]
      rows_of = [a[i:i + 10] for i in range(0, len(stim), 10) for a in (stim, rec)]
      grid = images.save_grid(os.path.join(out, "reconstructions.png"),
                              np.concatenate(rows_of), rows=len(rows_of))
  except UserError as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(2)
  print(open(os.path.join(out, "brain_eval.md")).read())
  print(f"wrote {out}/brain_eval.json, brain_eval.md" + (f" and {grid}" if grid else ""))


if __name__ == "__main__":
  define_flags()
  app.run(main)
