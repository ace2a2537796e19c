"""Scores a trained diffusion, score or code model under several samplers: FCD (with its
bootstrap interval, floor and ceiling), conditional accuracy (with its Wilson interval),
sampling throughput (compilation apart), and optionally the exact NLL bound in bits/dim with
its standard error.

This is a tuning tool: it scores against the validation split by default. Figures to publish
come from `experiments.report`, which reads test.

  python -m experiments.score --workdir=runs/ddpm --settings=ddpm:1000,ddim:100,ddim:50,ddim:25
  python -m experiments.score --workdir=runs/cfg --settings=ddim:50:w=0,ddim:50:w=1,ddim:50:w=3
  python -m experiments.score --workdir=runs/ddpm --settings=ddim:50:cls=1,ddim:50:cls=3 \
      --classifier_workdir=runs/noisy_classifier
  python -m experiments.score --workdir=runs/iddpm --settings=ddim:50 --nll_examples=64
  python -m experiments.score --workdir=runs/ncsn --settings=als,als:lr=2e-5,cas:lr=2e-5,pc:steps=1
  python -m experiments.score --workdir=runs/paella --settings=steps=12:w=2,steps=12:w=8
  python -m experiments.score --workdir=runs/ldm --settings=ddim:50:w=1,ddim:50:w=2 --adherence
  python -m experiments.score --samples=samples.npz [--dataset=embedded_digits] [--split=test]

Each setting of a ddpm-family or ldm model is KIND:STEPS[:key=value...] with KIND ddpm or
ddim and keys eta (DDIM eta), w (classifier-free guidance weight) and cls (classifier guidance
scale; needs --classifier_workdir). An ncsn model's settings are als[:steps=S][:lr=E][:denoise=0|1]
(annealed Langevin, S steps a level), cas[:lr=E][:denoise=0|1] (consistent annealed
sampling, one step a level) or pc[:steps=S][:snr=R] (predictor-corrector, S Langevin corrector
steps a level at signal-to-noise ratio R); keys left out take the config's. A code model's
(maskgit, maskgit_ar, paella) are those of `experiments.report --setting`: steps=N, w=W and
Paella's typical=M and temp_end=T, the autoregressive baseline's temp=T and top_k=K. Every
setting draws --num_samples images from the same seed; labels
cycle through the classes when the model is conditional or classifier-guided, and then
conditional accuracy is reported. With --adherence, a captions-conditioned ldm is also scored
on experiments.adherence's prompt sets, made from the reference split's digits: property
adherence, digit accuracy and FCD per set (training phrasings, held-out phrasings, held-out
combinations). Prints a markdown table, appends one JSON line per setting
to <workdir>/scores.jsonl and writes a 64-image grid per setting to <workdir>/samples/.

`--samples=FILE` scores images someone already has instead (an .npz with `images`, uint8 in
0..255 or float in [0, 1], [n, h, w, c], and optionally `labels` [n]), as
`python -m experiments.sample` writes them; the pinned scorer makes its FCD the same on every
machine (jaxgen/metrics/pinned/check_samples.json holds one such figure to check).
`--record=NAME` also writes the rows as a validation record,
experiments/results/validation/NAME.json, with the commit, the command and the settings: the
figures a README note may quote from tuning.
"""

import json
import os
import sys
from typing import Any

from absl import app, flags

_WORKDIR = flags.DEFINE_string("workdir", None, "Workdir of a trained ddpm-family, ncsn or "
                               "code-model experiment.")
_SAMPLES = flags.DEFINE_string("samples", None, "An .npz of images (and labels) to score "
                               "instead of a workdir's samples.")
_DATASET = flags.DEFINE_string("dataset", "embedded_digits", "With --samples: whose scorer and "
                               "reference split to score against.")
_RECORD = flags.DEFINE_string("record", None, "Also write the rows as the validation record "
                              "experiments/results/validation/NAME.json.")
_SETTINGS = flags.DEFINE_list("settings", None, "Samplers to score: KIND:STEPS[:k=v...] for "
                              "ddpm-family models (default ddim:50); als[:steps=S][:lr=E]"
                              "[:denoise=0|1], cas[:lr=E][:denoise=0|1] or pc[:steps=S][:snr=R] "
                              "for ncsn; steps=N[:w=W...] for code models (default: the "
                              "config's sampler).")
_NUM = flags.DEFINE_integer("num_samples", 1000, "Samples per setting.")
_NLL = flags.DEFINE_integer("nll_examples", 0, "Exact VLB (all T steps) on this many test "
                            "images, in bits/dim; 0 skips it.")
_CLASSIFIER = flags.DEFINE_string("classifier_workdir", None,
                                  "Workdir of a trained noisy_classifier (for cls=...).")
_SEED = flags.DEFINE_integer("seed", 0, "Sampling seed.")
_ADHERENCE = flags.DEFINE_bool("adherence", False, "Captions ldm: also score prompt adherence "
                                "per setting (experiments.adherence), on the reference split.")
_SPLIT = flags.DEFINE_string("split", "validation", "Reference split of the FCD and the NLL "
                             "(validation for tuning; test only for the final report).")

from experiments.sampler_settings import (TOKEN_STEP_KEYS, Setting,  # noqa: E402
                                          parse_langevin_setting, parse_setting,
                                          token_setting)  # Setting, parse_setting re-exported
from jaxgen.metrics.intervals import Z95  # noqa: E402


def score_settings(trained: Any, scorer: Any, settings: list[Setting], num: int, seed: int,
                   workdir: str, classifier: tuple[Any, Any] | None = None,
                   adherence_split: str | None = None) -> list[dict]:
  """Samples `num` images per setting from `trained` and scores them with `scorer`.

  Returns one dict per setting: its name, the scorer's report (fcd with fcd_sd and its 95%
  interval, fcd_ceiling, fcd_floor where held-out digits exist, cond_accuracy with its interval
  when labels apply), images_per_s with compilation excluded and first_chunk_s (which includes
  it). Grids go to workdir/samples/. With `adherence_split`, a captions ldm's rows also hold
  "prompts": experiments.adherence's record on that split's digits.
  """
  import jax
  import numpy as np
  from jaxgen import images, storage
  from jaxgen.errors import UserError
  from jaxgen.train.evaluation import Evaluator
  from jaxgen.train.loop import trained_scorer
  from jaxgen.train.mesh import make_mesh
  evaluator = Evaluator(trained.config, trained.family, None, trained.spec, make_mesh(), workdir,
                        trained_scorer)
  if adherence_split:  # the split's digits, read once for every setting
    from experiments import adherence
    from jaxgen.data.pipeline import SplitData
    digits = SplitData.open(trained.config.dataset, adherence_split,
                            trained.config.get("data_dir") or None).arrays()
  rows = []
  for setting in settings:
    if setting.cls is not None and classifier is None:
      raise UserError(f"setting {setting.name!r} needs --classifier_workdir")
    options: dict[str, Any] = setting.sampler_options()
    if setting.cls is not None:
      options.update(classifier=classifier, classifier_scale=setting.cls)
    labelled = trained.family.conditional or setting.cls is not None
    labels = np.arange(num, dtype=np.int32) % trained.spec.num_classes if labelled else None
    timing: dict[str, float] = {}
    samples = evaluator.generate(trained.state, jax.random.key(seed), num, labels, options, timing)
    grid_name = "score_" + setting.name.replace(" ", "_").replace("=", "") + ".png"
    images.save_grid(storage.join(workdir, "samples", grid_name), samples[:64])
    rows.append({"setting": setting.name, "num_samples": num,
                 "images_per_s": round(timing["images_per_s"], 3),
                 "first_chunk_s": round(timing["first_chunk_s"], 1),
                 **scorer.report(samples, labels), "_samples": samples, "_labels": labels})
    if adherence_split:
      rows[-1]["prompts"] = adherence.adherence_record(trained, scorer, digits["image"],
                                                       digits["label"], num, seed, options)
  return rows


def compare_to_first(scorer: Any, rows: list[dict], num_boot: int = 200) -> list[dict]:
  """Each setting after the first against the first, paired on the same seed and labels: the
  FCD difference by the joint bootstrap (both sample sets and the reference resampled
  together) and, for labelled samples, McNemar's test on the scorer's readings. Reads and then
  drops the rows' private `_samples` / `_labels`."""
  import numpy as np
  from jaxgen.metrics import compare
  scored = [r for r in rows if "_samples" in r]
  out = []
  if len(scored) >= 2:
    logits, feats = zip(*(scorer.logits_and_features(r["_samples"]) for r in scored))
    first = scored[0]
    for i, row in enumerate(scored[1:], start=1):
      entry = {"a": row["setting"], "b": first["setting"], "fcd": compare.fcd_difference(
          feats[i], feats[0], scorer.reference_features, num_boot)}
      if row["_labels"] is not None and first["_labels"] is not None and np.array_equal(
          row["_labels"], first["_labels"]):
        entry["cond_accuracy"] = compare.mcnemar_exact(logits[i].argmax(-1) == row["_labels"],
                                                       logits[0].argmax(-1) == first["_labels"])
      out.append(entry)
  for r in rows:
    r.pop("_samples", None)
    r.pop("_labels", None)
  return out


def exact_nll(trained: Any, num: int, seed: int, split: str = "validation") -> tuple[float, float]:
  """The exact VLB in bits/dim (all T terms, EMA params) on the first `num` images of `split`:
  (mean, standard error over the images)."""
  import jax
  from jaxgen.data.pipeline import SplitData
  from jaxgen.diffusion.family import make_family
  from jaxgen.metrics.intervals import mean_and_se
  config = trained.config.copy_and_resolve_references()  # the restored config stays as saved
  with config.unlocked():
    config.nll_estimator = "full"
  data = SplitData.open(config.dataset, split, config.get("data_dir") or None)
  family = make_family(config, trained.spec)  # only its estimator differs from trained.family
  return mean_and_se(family.nll_per_image(trained.state, data, jax.random.key(seed), num))


def markdown(rows: list[dict]) -> str:
  """The rows as a markdown table."""
  columns = {"setting": lambda r: r["setting"],
             "fcd (95%)": lambda r: f"{r['fcd']:.1f} ({r['fcd_ci95_low']:.1f}-{r['fcd_ci95_high']:.1f})",
             "fcd_floor": lambda r: f"{r['fcd_floor']:.1f} +- {Z95 * r['fcd_floor_sd']:.1f}",
             "fcd_ceiling": lambda r: f"{r['fcd_ceiling']:.1f}",
             "cond_accuracy (95%)": lambda r: (f"{r['cond_accuracy']:.3f} "
                                               f"({r['cond_accuracy_ci95_low']:.3f}-"
                                               f"{r['cond_accuracy_ci95_high']:.3f})"),
             "images/s": lambda r: f"{r['images_per_s']:.3g}"}
  needs = {"fcd_floor": "fcd_floor", "cond_accuracy (95%)": "cond_accuracy",
           "images/s": "images_per_s"}
  keys = [k for k in columns if any(needs.get(k, "setting") in r for r in rows)]
  lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
  lines += ["| " + " | ".join(columns[k](r) if needs.get(k, "setting") in r else ""
                              for k in keys) + " |" for r in rows]
  return "\n".join(lines)


def score_samples_file(path: str, dataset: str, split: str) -> dict:
  """The pinned (or cached) scorer's report on the images of an .npz, against `split`."""
  from experiments.sample import load_samples
  from jaxgen.errors import UserError
  from jaxgen.train.loop import trained_scorer
  images, labels = load_samples(path)
  scorer = trained_scorer(dataset, None, reference_split=split)
  if images.shape[1:] != tuple(scorer.image_shape):
    raise UserError(f"{path} holds {list(images.shape[1:])} images; {dataset}'s are "
                    f"{list(scorer.image_shape)}")
  return {"setting": os.path.basename(path), "num_samples": len(images),
          "scorer_digest": scorer.digest, **scorer.report(images, labels)}


def main(argv: list[str]) -> None:
  del argv
  from experiments import backend
  backend.prepare()  # before the backend starts
  from experiments import records
  from jaxgen import provenance
  from jaxgen.errors import UserError
  from jaxgen.train.restore import restore_trained
  try:
    if bool(_WORKDIR.value) == bool(_SAMPLES.value):
      raise UserError("give either --workdir=DIR (sample and score a model) or --samples=FILE")
    if _NUM.value <= 0:
      raise UserError(f"--num_samples must be positive, got {_NUM.value}")
    if _RECORD.value:
      records.check_publishable(records.VALIDATION_DIR)
    if _SAMPLES.value:
      rows = [score_samples_file(_SAMPLES.value, _DATASET.value, _SPLIT.value)]
      print(f"{_SAMPLES.value}, against {_DATASET.value}:{_SPLIT.value} "
            f"(scorer {rows[0]['scorer_digest'][:12]})")
      print(markdown(rows))
      print(f"FCD {rows[0]['fcd']:.6g}")
      if _RECORD.value:
        _write_validation_record(rows, {"samples": _SAMPLES.value, "dataset": _DATASET.value})
      return
    trained = restore_trained(_WORKDIR.value)
    family_name = trained.config.family
    if family_name not in ("ddpm", "ldm", "ncsn", *TOKEN_STEP_KEYS):
      raise UserError(f"experiments.score scores ddpm-family, ldm, ncsn and code models "
                      f"(maskgit, maskgit_ar, paella), not {family_name}")
    captions_ldm = family_name == "ldm" and trained.config.get("context") == "captions"
    if _ADHERENCE.value and not captions_ldm:
      raise UserError("--adherence scores a captions-conditioned ldm (config.context="
                      f"'captions'); {_WORKDIR.value} is a {family_name} model")
    if family_name == "ldm" and (_CLASSIFIER.value or _NLL.value):
      raise UserError("an ldm model has no classifier guidance and no likelihood bound here: "
                      "drop --classifier_workdir and --nll_examples")
    if family_name in TOKEN_STEP_KEYS:
      if _CLASSIFIER.value or _NLL.value:
        raise UserError("a code model has no classifier guidance and no likelihood bound here: "
                        "drop --classifier_workdir and --nll_examples")
      from experiments.evaluations import token_defaults
      settings = [token_setting(family_name, token_defaults(trained.config), s)
                  for s in _SETTINGS.value or [None]]
    elif family_name == "ncsn":
      if _CLASSIFIER.value or _NLL.value:
        raise UserError("an ncsn model has no classifier guidance and no likelihood bound here: "
                        "drop --classifier_workdir and --nll_examples")
      default = trained.config.ncsn.get("sampler", "als")  # its other keys: the config's too
      settings = [parse_langevin_setting(s) for s in _SETTINGS.value or [default]]
    else:
      settings = [parse_setting(s) for s in _SETTINGS.value or ["ddim:50"]]
    if _RECORD.value:
      records.check_publishable(records.VALIDATION_DIR,
                                provenance.read(os.path.abspath(_WORKDIR.value)))
    classifier = None
    if _CLASSIFIER.value:
      from jaxgen.diffusion.classifier_family import load_guide
      classifier = load_guide(_CLASSIFIER.value, trained.config.diffusion)
    from jaxgen.train.loop import trained_scorer
    scorer = trained_scorer(trained.config.dataset, trained.config.get("data_dir") or None,
                            reference_split=_SPLIT.value)
    rows = score_settings(trained, scorer, settings, _NUM.value, _SEED.value, _WORKDIR.value,
                          classifier, _SPLIT.value if _ADHERENCE.value else None)
    comparisons = compare_to_first(scorer, rows)
    for row in rows:
      row["scorer_digest"] = scorer.digest
    if _NLL.value > 0:
      mean, se = exact_nll(trained, _NLL.value, _SEED.value, _SPLIT.value)
      key = "cond_nll_bpd" if trained.family.conditional else "nll_bpd"  # -log p(x|y)
      rows.append({"setting": f"exact NLL, {_NLL.value} {_SPLIT.value} images", key: mean,
                   key + "_se": se})
    if _RECORD.value:
      _write_validation_record(rows, {
          "comparisons": comparisons,
          "workdir": os.path.abspath(_WORKDIR.value), "step": trained.step,
          "family": trained.config.family, "seed": _SEED.value,
          "trained": provenance.read(os.path.abspath(_WORKDIR.value))})
  except UserError as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(2)
  with open(os.path.join(_WORKDIR.value, "scores.jsonl"), "a") as f:
    for row in rows:
      f.write(json.dumps({"step": trained.step, **row}) + "\n")
  print(f"step {trained.step} of {_WORKDIR.value}, against {_SPLIT.value}")
  print(markdown([r for r in rows if "fcd" in r]))
  if any("prompts" in r for r in rows):
    from experiments import adherence
    print("\n".join(adherence.adherence_table(
        [{"name": r["setting"], "prompts": r["prompts"]} for r in rows if "prompts" in r])))
  for c in comparisons:  # paired on the same seed and labels
    f = c["fcd"]
    line = (f"{c['a']} - {c['b']}: FCD {f['difference']:+.1f} ({f['difference_ci95_low']:+.1f} "
            f"to {f['difference_ci95_high']:+.1f}), {f['verdict']}")
    if "cond_accuracy" in c:
      m = c["cond_accuracy"]
      line += (f"; accuracy {m['difference']:+.3f} ({m['difference_ci95_low']:+.3f} to "
               f"{m['difference_ci95_high']:+.3f}), McNemar p = {m['p_value']:.3g}, "
               f"{m['verdict']}")
    print(line)
  for row in rows:
    for key, what in (("nll_bpd", "-log p(x)"), ("cond_nll_bpd", "-log p(x|y)")):
      if key in row:
        print(f"{row['setting']}: {what} <= {row[key]:.4f} +- {row[key + '_se']:.4f} (SE) "
              "bits/dim")


def _write_validation_record(rows: list[dict], settings: dict) -> None:
  """experiments/results/validation/<--record>.json: the rows, the settings, commit, command."""
  from experiments import records
  record = {"name": _RECORD.value, "kind": "validation", "split": _SPLIT.value,
            "num_samples": _NUM.value if not _SAMPLES.value else rows[0]["num_samples"],
            **settings, "rows": [{k: (float(v) if isinstance(v, (int, float)) else v)
                                  for k, v in r.items()} for r in rows]}
  records.write(record, records.VALIDATION_DIR,
                "python -m experiments.score " + " ".join(sys.argv[1:]))
  print(f"wrote {os.path.join(records.VALIDATION_DIR, _RECORD.value)}.json")


if __name__ == "__main__":
  app.run(main)
