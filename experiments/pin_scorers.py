"""Trains the pinned scorers once and commits them: the one yardstick every machine scores with.

  python -m experiments.pin_scorers [--only=embedded_digits_mlp] [--workdir_root=runs/scorers]

For each scorer in jaxgen.metrics.pinned.PINNED (the embedded digits' CNN scorer and MLP second
judge, the two-domain digits' CNN and MLP judges) it trains the fixed recipe
(jaxgen.metrics.quality.scorer_config) through the loop, writes its parameters to
jaxgen/metrics/pinned/<name>.msgpack and its sha256, recipe, training commit and reference
accuracy to manifest.json. It then writes the checks any machine can run on its yardstick:
check_features.npz (each scorer's features of the first 8 test digits, which a test holds to
1e-4) and check_samples.npz with check_samples.json (200 fixed validation digits and the FCD
`python -m experiments.score --samples=...` gives them against test).
Re-pinning changes every FCD: records scored by an older scorer move to the tables' "older
scorer" section until they are rescored.
"""

import json
import os
import sys

import numpy as np
from absl import app, flags

_ONLY = flags.DEFINE_string("only", None, "Pin this scorer alone (a name from the manifest).")
_ROOT = flags.DEFINE_string("workdir_root", os.path.join("runs", "scorers"),
                            "Where the scorers' training runs go (kept for inspection).")

CHECK_FEATURES = "check_features.npz"
CHECK_SAMPLES = "check_samples.npz"
CHECK_SAMPLES_RECORD = "check_samples.json"
CHECK_DATASET, CHECK_SPLIT, CHECK_NUM = "embedded_digits", "test", 200


def reference_split(dataset: str) -> str:
  """The test split whose first digits the feature check reads."""
  return "testA" if dataset == "digits_two_domain" else "test"


def pin_one(dataset: str, train_split: str, kind: str, workdir_root: str) -> dict:
  """Trains one scorer through the loop and writes its parameters; returns its manifest entry."""
  from jaxgen import provenance
  from jaxgen.metrics import pinned, quality
  from jaxgen.train.loop import train_and_evaluate
  from jaxgen.train.restore import restore_trained
  name = pinned.scorer_name(dataset, train_split, kind)
  config = quality.scorer_config(dataset, None, kind)
  config.train_split = train_split
  # The in-training eval reads the train split for the two-domain judges (their validation
  # splits are one domain each); the embedded digits' on validation.
  config.eval_split = "validation" if train_split == "train" else train_split
  workdir = os.path.join(workdir_root, name)
  print(f"training {name} ({kind}) on {dataset}:{train_split} in {workdir}", flush=True)
  train_and_evaluate(config, workdir)
  trained = restore_trained(workdir)
  written = pinned.write_params(name, trained.state.params)
  return {**written, "dataset": dataset, "train_split": train_split, "kind": kind,
          "recipe": json.loads(config.to_json_best_effort()), "steps": trained.step,
          "trained": provenance.read(os.path.abspath(workdir))}


def write_checks() -> dict:
  """Writes check_features.npz, check_samples.npz and check_samples.json from the pinned
  scorers; returns the samples' scores."""
  from jaxgen.data.pipeline import SplitData
  from jaxgen.metrics import pinned
  from jaxgen.train.loop import trained_scorer
  features = {}
  for name, e in sorted(pinned.manifest().items()):
    scorer = trained_scorer(e["dataset"], None, e["train_split"],
                            reference_split(e["dataset"]), e["kind"])
    digits = SplitData.open(e["dataset"], reference_split(e["dataset"])).arrays()["image"][:8]
    features[name] = scorer.logits_and_features(digits)[1]
  np.savez_compressed(os.path.join(pinned.PINNED_DIR, CHECK_FEATURES), **features)
  validation = SplitData.open(CHECK_DATASET, "validation").arrays()
  images = np.round(validation["image"][:CHECK_NUM] * 255).astype(np.uint8)
  labels = validation["label"][:CHECK_NUM].astype(np.int32)
  np.savez_compressed(os.path.join(pinned.PINNED_DIR, CHECK_SAMPLES), images=images,
                      labels=labels)
  scorer = trained_scorer(CHECK_DATASET, None, reference_split=CHECK_SPLIT)
  report = scorer.report(images.astype(np.float32) / 255.0, labels)
  check = {"dataset": CHECK_DATASET, "split": CHECK_SPLIT, "num_samples": CHECK_NUM,
           "fcd": report["fcd"], "cond_accuracy": report["cond_accuracy"],
           "scorer_digest": scorer.digest,
           "command": f"python -m experiments.score --samples=jaxgen/metrics/pinned/"
                      f"{CHECK_SAMPLES} --split={CHECK_SPLIT}"}
  with open(os.path.join(pinned.PINNED_DIR, CHECK_SAMPLES_RECORD), "w") as f:
    json.dump(check, f, indent=2, sort_keys=True)
    f.write("\n")
  return check


def main(argv: list[str]) -> None:
  del argv
  from experiments import backend
  backend.prepare()
  from jaxgen.errors import UserError
  from jaxgen.metrics import pinned
  try:
    names = {pinned.scorer_name(*p): p for p in pinned.PINNED}
    if _ONLY.value and _ONLY.value not in names:
      raise UserError(f"--only={_ONLY.value} names no pinned scorer; known: {', '.join(names)}")
    entries = pinned.manifest()
    for name, (dataset, split, kind) in names.items():
      if _ONLY.value in (None, name):
        entries[name] = pin_one(dataset, split, kind, _ROOT.value)
        pinned.write_manifest(entries)
    check = write_checks()
  except UserError as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(2)
  for name, e in sorted(pinned.manifest().items()):
    print(f"{name}: sha256 {e['sha256'][:16]} ({e['file']})")
  print(f"check samples: FCD {check['fcd']:.6g} against {CHECK_DATASET}:{CHECK_SPLIT}")


if __name__ == "__main__":
  app.run(main)
