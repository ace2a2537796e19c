"""The reproduce manifest: every record has a recipe, every recipe a config, and the states."""

import glob
import os
import subprocess
import sys

import numpy as np
import pytest

from experiments import compare, reproduce
from experiments.bench import alternate

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(ROOT, "experiments", "results")


def test_every_record_and_config_is_in_the_manifest():
  names = {os.path.basename(p)[:-5] for p in glob.glob(os.path.join(RESULTS, "*.json"))}
  assert names <= set(reproduce.RECORDS), names - set(reproduce.RECORDS)
  configs = {os.path.basename(p)[:-3] for p in glob.glob(
      os.path.join(ROOT, "experiments", "configs", "*.py"))}
  for t in reproduce.TRAININGS.values():
    assert t.config in configs, t
    assert all(n in reproduce.TRAININGS for n in t.needs), t
  for r in reproduce.RECORDS.values():
    assert r.training in reproduce.TRAININGS, r
    assert all(n in reproduce.TRAININGS for n in r.needs), r
  guided = reproduce.RECORDS["ddpm_cls4"]
  assert reproduce.trainings_for(guided) == ["ddpm", "noisy_classifier"]  # the guide trains too


def test_dry_run_trains_first_stages_first_then_reports_then_tables(tmp_path):
  out = subprocess.run([sys.executable, "-m", "experiments.reproduce", "--dry_run",
                        "--only=maskgit_s8", "--redo_current", f"--runs_dir={tmp_path}"],
                       cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
  assert out.returncode == 0, out.stderr
  lines = [l for l in out.stdout.splitlines() if l.startswith("$ ")]
  assert "configs/vqvae.py" in lines[0] and "configs/maskgit.py" in lines[1]
  assert f"--config.tokenizer_workdir={tmp_path}/vqvae" in lines[1]
  assert "experiments.report" in lines[2] and "--setting=steps=8" in lines[2]
  assert lines[-1] == "$ python -m experiments.report --tables --update_readme"
  bad = subprocess.run([sys.executable, "-m", "experiments.reproduce", "--only=nope"], cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
  assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "names no record" in bad.stderr


def test_no_published_record_comes_from_a_dirty_tree():
  out = subprocess.run([sys.executable, "-m", "experiments.reproduce", "--list"], cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
  assert out.returncode == 0, out.stderr
  states = {l.split()[0]: l.split()[1] for l in out.stdout.splitlines() if l.strip()}
  assert set(states) >= set(reproduce.RECORDS)
  assert "dirty" not in states.values(), [n for n, s in states.items() if s == "dirty"]


def test_alternate_timing_calls_each_contender_in_turn():
  calls = []
  seconds = alternate.time_alternately({"a": lambda i: calls.append(("a", i)),
                                        "b": lambda i: calls.append(("b", i))}, reps=3)
  assert calls[:2] == [("a", 0), ("b", 0)]  # each once first, untimed
  assert sorted(calls[2:]) == [("a", 1), ("a", 2), ("a", 3), ("b", 1), ("b", 2), ("b", 3)]
  assert calls[2][0] != calls[4][0]  # the order rotates between rounds
  assert set(seconds) == {"a", "b"} and min(seconds.values()) >= 0


def _record(tmp_path, name, correct=None, samples=None, nll=None, digest="d"):
  record = {"name": name, "family": "gan", "scorer_digest": digest}
  if correct is not None:
    record["cond_correct"] = "".join("1" if c else "0" for c in correct)
  if samples is not None:
    np.savez_compressed(tmp_path / f"{name}.samples.npz", **samples)
    record["samples"] = f"{name}.samples.npz"
  if nll is not None:
    record["nll"] = {"per_image": list(nll), "unit": "nats", "conditional": False,
                     "images": len(nll)}
  return record


def test_compare_pairs_records_on_the_same_labels_images_and_scorer(tmp_path):
  from jaxgen.data.pipeline import SplitData
  from jaxgen.errors import UserError
  from jaxgen.metrics import pinned
  digest = pinned.entry("embedded_digits", "train", "cnn")["sha256"]
  real = SplitData.open("embedded_digits", "validation").arrays()
  images = np.round(real["image"][:200] * 255).astype(np.uint8)
  labels = real["label"][:200].astype(np.int32)
  noisy = np.clip(images.astype(np.int32) + np.random.default_rng(0).integers(
      0, 160, images.shape), 0, 255).astype(np.uint8)
  rng = np.random.default_rng(1)
  a = _record(tmp_path, "a", rng.random(200) < 0.95, {"images": images, "labels": labels},
              90 + rng.normal(0, 1, 50), digest)
  b = _record(tmp_path, "b", rng.random(200) < 0.6, {"images": noisy, "labels": labels},
              91 + rng.normal(0, 1, 50), digest)
  tests = compare.compare_records(a, b, str(tmp_path), num_boot=50)
  assert tests["cond_accuracy"]["verdict"] == "A higher"
  assert tests["nll"]["verdict"] == "A lower"
  assert tests["fcd"]["verdict"] == "A lower" and tests["fcd"]["n_a"] == 200
  text = compare.sentences("a", "b", tests)
  assert len(text) == 3 and all("a" in t and "b" in t for t in text)
  # Another scorer's samples, or other labels, pair up with nothing but the likelihoods.
  c = _record(tmp_path, "c", rng.random(200) < 0.6, {"images": images, "labels": labels[::-1]},
              None, "other")
  with pytest.raises(UserError, match="share no paired measure"):
    compare.compare_records(a, c, str(tmp_path), num_boot=10)


def test_comparison_records_make_sentences_and_speed_tables():
  from experiments import tables
  text = tables.comparison_tables([
      {"kind": "speed", "name": "code", "reps": 7, "batch_sizes": [1, 64], "cpu_count": 2,
       # Sorted keys put mg8 after ar here; in the order given the reference comes first.
       "entries": {"ar": {"setting": "default", "images_per_s_b1": 40.0, "ratio_to_ar_b1": 1.0,
                          "images_per_s_b64": 70.0, "ratio_to_ar_b64": 1.0},
                   "mg8": {"setting": "steps=8", "images_per_s_b1": 30.0,
                           "ratio_to_ar_b1": 0.75, "images_per_s_b64": 35.0,
                           "ratio_to_ar_b64": 0.5}}},
      {"kind": "comparison", "a": "vit", "b": "cnn", "sentences": ["test accuracy: ..."]}])
  assert "- vit against cnn, test accuracy: ..." in text
  assert "| mg8 | steps=8 | 30 | 0.75 | 35 | 0.50 |" in text
  assert text.index("| ar | default") < text.index("| mg8 |")
  # Written with sorted keys, the reference (the ratios' divisor) sorting after another entry.
  text = tables.comparison_tables([{
      "kind": "speed", "name": "v", "reps": 3, "batch_sizes": [1], "cpu_count": 2,
      "entries": {"cnn": {"setting": "default", "images_per_s_b1": 20.0, "ratio_to_vit_b1": 2.0},
                  "vit": {"setting": "default", "images_per_s_b1": 10.0,
                          "ratio_to_vit_b1": 1.0}}}])
  assert text.index("| vit |") < text.index("| cnn |") and "ratio to vit" in text
  assert "alternately in one run" in text
