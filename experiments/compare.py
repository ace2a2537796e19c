"""Paired comparison of two records: the only source of an "A against B" sentence.

  python -m experiments.compare --a=cgan --b=dcgan [--name=cgan_vs_dcgan]
  python -m experiments.compare --a=vit --b=cnn_matched

Reads experiments/results/<a>.json and <b>.json and, where both hold what a test needs:
- classifiers: McNemar's exact test over the same test digits (each record's per-digit
  correctness) and the accuracy difference's 95% interval;
- conditional generators: McNemar's test on the pinned scorer's readings of samples drawn for
  the same labels;
- likelihoods: the mean per-image difference over the same test images and its interval;
- FCD: the difference by a joint bootstrap of both records' saved samples and the test
  reference, rescored by the pinned scorer (both records must name it).
Writes experiments/results/comparisons/<name>.json (commit, command) and prints one sentence
per test. A difference whose interval holds 0 reads "no difference".
"""

import json
import os
import sys
from typing import Any

from absl import app, flags

_A = flags.DEFINE_string("a", None, "Record name of model A.")
_B = flags.DEFINE_string("b", None, "Record name of model B.")
_NAME = flags.DEFINE_string("name", None, "Comparison record name; default: A_vs_B.")
_RESULTS = flags.DEFINE_string("results_dir", None, "Where the records live (default: "
                               "experiments/results); the comparison goes to its comparisons/.")
_BOOT = flags.DEFINE_integer("num_boot", 500, "Bootstrap resamples of the FCD difference.")
flags.mark_flags_as_required(["a", "b"])


def load_record(results_dir: str, name: str) -> dict[str, Any]:
  """results_dir/<name>.json, or a one-line UserError naming what exists."""
  from jaxgen.errors import UserError
  path = os.path.join(results_dir, name + ".json")
  if not os.path.isdir(results_dir):
    raise UserError(f"{results_dir} does not exist; pass the folder that holds the records")
  if not os.path.exists(path):
    known = sorted(f[:-5] for f in os.listdir(results_dir) if f.endswith(".json"))
    raise UserError(f"no record {name!r} in {results_dir}; records: {', '.join(known)}")
  with open(path) as f:
    return json.load(f)


def compare_records(a: dict, b: dict, results_dir: str, num_boot: int) -> dict[str, Any]:
  """Every paired test that records a and b support; a UserError when they support none."""
  import numpy as np
  from experiments import records
  from jaxgen.errors import UserError
  from jaxgen.metrics import compare
  out: dict[str, Any] = {}
  if "correct" in a and "correct" in b:  # classifiers on the same test digits
    if len(a["correct"]) != len(b["correct"]):
      raise UserError(f"{a['name']} and {b['name']} read different numbers of test digits")
    out["accuracy"] = compare.mcnemar_exact(records.decode_bits(a["correct"]),
                                            records.decode_bits(b["correct"]))
  same_scorer = a.get("scorer_digest") and a.get("scorer_digest") == b.get("scorer_digest")
  samples = [os.path.join(results_dir, r.get("samples", "")) for r in (a, b)]
  if "cond_correct" in a and "cond_correct" in b and same_scorer:
    labels = [np.load(p)["labels"] if os.path.isfile(p) else None for p in samples]
    if labels[0] is not None and labels[1] is not None and np.array_equal(*labels):
      out["cond_accuracy"] = compare.mcnemar_exact(records.decode_bits(a["cond_correct"]),
                                                   records.decode_bits(b["cond_correct"]))
  na, nb = a.get("nll", {}), b.get("nll", {})
  if (na.get("per_image") and nb.get("per_image") and
      (na["unit"], na["conditional"], na["images"]) == (nb["unit"], nb["conditional"],
                                                        nb["images"])):
    d = compare.paired_difference(np.asarray(na["per_image"]), np.asarray(nb["per_image"]))
    out["nll"] = {**d, "unit": na["unit"], "conditional": na["conditional"]}
  if same_scorer and all(os.path.isfile(p) for p in samples):
    from experiments.sample import load_samples
    from jaxgen.train.loop import trained_scorer
    scorer = trained_scorer(a.get("dataset", "embedded_digits"), None, reference_split="test")
    if scorer.digest != a["scorer_digest"]:
      raise UserError(f"{a['name']} and {b['name']} were scored by {a['scorer_digest'][:8]}, "
                      f"not the pinned scorer {scorer.digest[:8]}; rescore them first")
    feats = [scorer.logits_and_features(load_samples(p)[0])[1] for p in samples]
    if len(feats[0]) != len(feats[1]):  # FCD's finite-n bias differs with n
      raise UserError(f"{a['name']} has {len(feats[0])} samples and {b['name']} "
                      f"{len(feats[1])}: an FCD comparison needs as many of each")
    d = compare.fcd_difference(feats[0], feats[1], scorer.reference_features, num_boot)
    out["fcd"] = {**d, "n_a": len(feats[0]), "n_b": len(feats[1])}
  if not out:
    raise UserError(f"{a['name']} and {b['name']} share no paired measure (same test digits, "
                    "same labels and scorer with saved samples, or per-image likelihoods)")
  return out


def sentences(a: str, b: str, tests: dict[str, Any]) -> list[str]:
  """One plain sentence per test, as the README quotes them."""
  lines = []
  for key, what in (("accuracy", "test accuracy"), ("cond_accuracy", "conditional accuracy")):
    if key in tests:
      t = tests[key]
      lines.append(f"{what}: {a} {t['accuracy_a']:.3f} against {b} {t['accuracy_b']:.3f} on the "
                   f"same {t['n']}; difference {t['difference']:+.3f} ({t['difference_ci95_low']:+.3f} "
                   f"to {t['difference_ci95_high']:+.3f}), McNemar p = {t['p_value']:.3g}: "
                   f"{t['verdict']}")
  if "nll" in tests:
    t = tests["nll"]
    lines.append(f"NLL: {a} - {b} = {t['difference']:+.3f} ({t['difference_ci95_low']:+.3f} to "
                 f"{t['difference_ci95_high']:+.3f}) {t['unit']} over the same {t['n']} test "
                 f"images: {t['verdict']}")
  if "fcd" in tests:
    t = tests["fcd"]
    lines.append(f"FCD: {a} {t['fcd_a']:.1f} against {b} {t['fcd_b']:.1f}; difference "
                 f"{t['difference']:+.1f} ({t['difference_ci95_low']:+.1f} to "
                 f"{t['difference_ci95_high']:+.1f}), joint bootstrap: {t['verdict']}"
                 + (f"; ratio {t['ratio']:.2f}x ({t['ratio_ci95_low']:.2f}x to "
                    f"{t['ratio_ci95_high']:.2f}x)" if "ratio" in t else ""))
  return lines


def main(argv: list[str]) -> None:
  del argv
  from experiments import backend
  backend.prepare()
  from experiments import records
  from jaxgen.errors import UserError
  results_dir = _RESULTS.value or records.RESULTS_DIR
  name = _NAME.value or f"{_A.value}_vs_{_B.value}"
  out_dir = os.path.join(results_dir, "comparisons")
  try:
    records.check_publishable(out_dir)
    a, b = load_record(results_dir, _A.value), load_record(results_dir, _B.value)
    tests = compare_records(a, b, results_dir, _BOOT.value)
  except UserError as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(2)
  record = {"name": name, "kind": "comparison", "a": a["name"], "b": b["name"],
            "a_commit": a.get("commit"), "b_commit": b.get("commit"),
            "scorer_digest": a.get("scorer_digest"), "tests": tests,
            "sentences": sentences(a["name"], b["name"], tests)}
  records.write(record, out_dir, "python -m experiments.compare " + " ".join(sys.argv[1:]))
  print("\n".join(record["sentences"]))
  print(f"wrote {os.path.join(out_dir, name)}.json")


if __name__ == "__main__":
  app.run(main)
