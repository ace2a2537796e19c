"""The pinned scorers: one yardstick on every machine, checked by digest, features and an FCD."""

import json
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

from jaxgen.data.pipeline import SplitData
from jaxgen.errors import UserError
from jaxgen.metrics import pinned
from jaxgen.train import loop

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_every_pinned_scorer_is_committed_with_its_digest():
  entries = pinned.manifest()
  assert sorted(entries) == sorted(pinned.scorer_name(*p) for p in pinned.PINNED)
  for name, e in entries.items():
    assert pinned.sha256_of(os.path.join(pinned.PINNED_DIR, e["file"])) == e["sha256"], name
    # Trained by the pinning command from committed code, to the recipe's last step.
    assert e["trained"] and not any(t["dirty"] for t in e["trained"]), name
    assert e["steps"] == e["recipe"]["num_train_steps"]


def test_scorers_of_the_embedded_data_load_without_training(monkeypatch):
  def no_training(*args, **kwargs):
    raise AssertionError("a pinned scorer must not be trained")

  monkeypatch.setattr(loop, "train_and_evaluate", no_training)
  for dataset, split, kind in pinned.PINNED:
    scorer = loop.trained_scorer(dataset, None, split, "testB" if "two" in dataset else "test",
                                    kind)
    assert scorer.pinned and scorer.digest == pinned.entry(dataset, split, kind)["sha256"]
    # A real judge of each kind reads real test digits well above chance.
    assert scorer.reference_accuracy > 0.85, (dataset, kind, scorer.reference_accuracy)


def test_pinned_features_of_fixed_test_digits_match_the_committed_values():
  """Any machine can check its yardstick: the same parameters give the same features (to
  float rounding across CPUs and XLA versions)."""
  with np.load(os.path.join(pinned.PINNED_DIR, "check_features.npz")) as committed:
    expected = {k: committed[k] for k in committed.files}
  assert sorted(expected) == sorted(pinned.manifest())
  for name, e in pinned.manifest().items():
    split = "testA" if e["dataset"] == "digits_two_domain" else "test"
    scorer = loop.trained_scorer(e["dataset"], None, e["train_split"], split, e["kind"])
    digits = SplitData.open(e["dataset"], split).arrays()["image"][:8]
    np.testing.assert_allclose(scorer.logits_and_features(digits)[1], expected[name], atol=1e-4,
                               err_msg=name)


def test_the_committed_samples_score_the_committed_fcd():
  """`experiments.score --samples` on the committed check samples prints the committed FCD to
  4 significant figures."""
  check = json.load(open(os.path.join(pinned.PINNED_DIR, "check_samples.json")))
  out = subprocess.run([sys.executable, "-m", "experiments.score",
                        f"--samples={os.path.join(pinned.PINNED_DIR, 'check_samples.npz')}",
                        f"--split={check['split']}"], cwd=ROOT, capture_output=True, text=True,
                       timeout=300)
  assert out.returncode == 0, out.stderr[-2000:]
  fcd = float(re.search(r"^FCD (\S+)$", out.stdout, re.M).group(1))
  assert f"{fcd:.4g}" == f"{check['fcd']:.4g}"
  assert check["scorer_digest"] == pinned.entry("embedded_digits", "train", "cnn")["sha256"]


def test_a_changed_scorer_file_is_refused_in_one_line(tmp_path, monkeypatch):
  for name in os.listdir(pinned.PINNED_DIR):
    shutil.copy(os.path.join(pinned.PINNED_DIR, name), tmp_path / name)
  path = tmp_path / "embedded_digits.msgpack"
  data = bytearray(path.read_bytes())
  data[-1] ^= 1  # one flipped bit in the last weight
  path.write_bytes(bytes(data))
  monkeypatch.setattr(pinned, "PINNED_DIR", str(tmp_path))
  with pytest.raises(UserError, match="has sha256 .* the manifest says") as error:
    loop.trained_scorer("embedded_digits", None, reference_split="test")
  assert "\n" not in str(error.value)
