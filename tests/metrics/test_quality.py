"""The sample-quality scorer: floor below ceiling, real data near the floor, label accuracy."""

import os

import numpy as np
import pytest

from jaxgen.data.pipeline import SplitData
from jaxgen.metrics import quality
from jaxgen.metrics.quality import Scorer, trivial_generator
from jaxgen.nets.classifier import CNNClassifier
from jaxgen.train import loop
from jaxgen.train.loop import train_and_evaluate
from jaxgen.train.restore import restore_trained
from tests.helpers import tiny_config


# One xdist worker runs this module: its scorer fixture trains a classifier once (see test_score).
pytestmark = pytest.mark.xdist_group("quality")


@pytest.fixture(scope="module")
def scorer(tmp_path_factory):
  workdir = str(tmp_path_factory.mktemp("scorer"))
  config = tiny_config("classifier", num_train_steps=60, eval_every_steps=60)
  train_and_evaluate(config, workdir)
  trained = restore_trained(workdir)
  model = CNNClassifier(num_classes=10, channels=tuple(config.channels),
                        feature_dim=config.feature_dim)
  return Scorer(model, trained.state.params, SplitData.open("embedded_digits", "train"),
                SplitData.open("embedded_digits", "test"))


def test_floor_is_far_below_ceiling(scorer):
  floor, ceiling = scorer.references(500)
  assert 0 <= floor < 0.25 * ceiling


def test_report_on_real_digits_with_labels(scorer):
  test = SplitData.open("embedded_digits", "test").arrays()
  report = scorer.report(test["image"][:500], test["label"][:500])
  assert report["fcd"] < report["fcd_floor"] + 0.5 * (report["fcd_ceiling"] - report["fcd_floor"])
  assert report["cond_accuracy"] > 0.5  # the tiny classifier is far better than chance
  shuffled = scorer.report(test["image"][:500], np.roll(test["label"][:500], 1))
  assert shuffled["cond_accuracy"] < report["cond_accuracy"]


def test_trivial_generator_matches_pixel_statistics():
  images = np.random.default_rng(0).uniform(0.2, 0.8, (2000, 4, 4, 1)).astype(np.float32)
  fake = trivial_generator(images, 4000)
  np.testing.assert_allclose(fake.mean(0), images.mean(0), atol=0.02)


def test_one_cached_classifier_serves_every_test_split(tmp_path, monkeypatch):
  """Scorers that share a train split train (and cache) one classifier, each with its own test
  statistics (the CycleGAN judges: both trained on trainA+trainB, tested on testA and testB)."""
  monkeypatch.setenv("JAXGEN_CACHE", str(tmp_path))
  recipe = quality.scorer_config

  def seconds_long_recipe(dataset, data_dir):
    c = recipe(dataset, data_dir)
    c.num_train_steps = c.eval_every_steps = c.checkpoint_every_steps = 10
    return c

  trainings = []
  real_train = loop.train_and_evaluate

  def counted_train(config, workdir):
    trainings.append(workdir)
    return real_train(config, workdir)

  monkeypatch.setattr(quality, "scorer_config", seconds_long_recipe)
  monkeypatch.setattr(loop, "train_and_evaluate", counted_train)
  a = Scorer.for_dataset("digits_two_domain", None, "trainA+trainB", "testA")
  b = Scorer.for_dataset("digits_two_domain", None, "trainA+trainB", "testB")
  assert len(trainings) == 1
  cached = [d for d in os.listdir(tmp_path / "scorers") if not d.endswith(".lock")]
  assert cached == ["digits_two_domain_trainA_and_trainB"]
  test_b = SplitData.open("digits_two_domain", "testB").arrays()["image"][:200]
  assert b.fcd(test_b) < a.fcd(test_b)  # each scores against its own test split
