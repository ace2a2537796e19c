"""experiments/score.py: sampler settings parse, score and write grids; the exact NLL is finite."""

import math
import os

import numpy as np
import pytest

from experiments import score
from jaxgen.data.pipeline import SplitData
from jaxgen.diffusion.classifier_family import load_guide
from jaxgen.errors import UserError
from jaxgen.metrics.quality import Scorer
from jaxgen.nets.classifier import CNNClassifier
from jaxgen.train.loop import train_and_evaluate
from jaxgen.train.restore import restore_trained
from tests.helpers import tiny_config

# One worker runs this module, so its module-scoped training fixture runs once, not once per
# xdist worker (it did: 140 s and 107 s in the same run). scripts/test.sh uses --dist loadgroup.
pytestmark = pytest.mark.xdist_group("score")


def test_parse_setting():
  assert score.parse_setting("ddim:50") == score.Setting("ddim", 50)
  assert score.parse_setting("ddpm:1000:w=1.5:cls=2") == score.Setting("ddpm", 1000, w=1.5, cls=2)
  assert score.parse_setting("ddim:25:eta=1").name == "ddim25 eta=1"
  for bad in ["ddim", "euler:50", "ddim:0", "ddim:50:zeta=1", "ddim:50:w=high"]:
    with pytest.raises(UserError, match="--settings item"):
      score.parse_setting(bad)


@pytest.fixture(scope="module")
def trained_cfg_and_scorer(tmp_path_factory):
  """A tiny conditional DDPM (CFG) and a tiny scoring classifier, both trained on real digits."""
  root = tmp_path_factory.mktemp("score")
  train_and_evaluate(tiny_config("classifier", num_train_steps=40, eval_every_steps=40),
                     str(root / "cls"))
  cls = restore_trained(str(root / "cls"))
  model = CNNClassifier(num_classes=10, channels=tuple(cls.config.channels),
                        feature_dim=cls.config.feature_dim)
  scorer = Scorer(model, cls.state.params, SplitData.open("embedded_digits", "train"),
                  SplitData.open("embedded_digits", "test"),
                  SplitData.open("embedded_digits", "validation"))
  workdir = str(root / "cfg")
  train_and_evaluate(tiny_config("cfg"), workdir)
  return restore_trained(workdir), scorer, workdir


def test_score_settings_report_fcd_and_accuracy(trained_cfg_and_scorer):
  trained, scorer, workdir = trained_cfg_and_scorer
  settings = [score.Setting("ddim", 5), score.Setting("ddpm", 50, w=1.0)]
  rows = score.score_settings(trained, scorer, settings, 20, 0, workdir)
  assert [r["setting"] for r in rows] == ["ddim5", "ddpm50 w=1"]
  for row in rows:
    assert row["num_samples"] == 20 and math.isfinite(row["fcd"])
    assert row["fcd_floor"] < row["fcd_ceiling"] and 0 <= row["cond_accuracy"] <= 1
  assert os.path.exists(os.path.join(workdir, "samples", "score_ddpm50_w1.png"))
  with pytest.raises(UserError, match="needs --classifier_workdir"):
    score.score_settings(trained, scorer, [score.Setting("ddim", 5, cls=1.0)], 4, 0, workdir)
  table = score.markdown(rows)
  assert table.count("\n") == 3 and "cond_accuracy" in table


def test_exact_nll_is_a_positive_bound(trained_cfg_and_scorer):
  trained, _, _ = trained_cfg_and_scorer
  bpd = score.exact_nll(trained, 4, 0)
  # A bound on a discrete 8-bit likelihood: positive, and an untrained-ish model is far from 0.
  assert np.isfinite(bpd) and 0.1 < bpd < 50


def test_classifier_guided_scoring_and_guide_checks(trained_cfg_and_scorer, tmp_path):
  trained, scorer, workdir = trained_cfg_and_scorer
  guide_dir = str(tmp_path / "guide")
  train_and_evaluate(tiny_config("noisy_classifier"), guide_dir)
  guide = load_guide(guide_dir, trained.config.diffusion)
  rows = score.score_settings(trained, scorer, [score.Setting("ddim", 5, cls=3.0)], 10, 0,
                              workdir, guide)
  assert rows[0]["setting"] == "ddim5 cls=3" and 0 <= rows[0]["cond_accuracy"] <= 1
  other = trained.config.diffusion.copy_and_resolve_references()
  other.num_timesteps += 1
  with pytest.raises(UserError, match="trained on a linear schedule with T=50"):
    load_guide(guide_dir, other)
  with pytest.raises(UserError, match="not a noisy_classifier"):
    load_guide(workdir, trained.config.diffusion)


def test_exact_nll_leaves_the_restored_config_alone(trained_cfg_and_scorer):
  trained, _, _ = trained_cfg_and_scorer
  before = trained.config.to_dict()
  score.exact_nll(trained, 2, 0)
  assert trained.config.to_dict() == before
