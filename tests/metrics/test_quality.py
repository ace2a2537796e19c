"""The sample-quality scorer: floor below ceiling, real data near the floor, label accuracy."""

import numpy as np
import pytest

from jaxgen.data.pipeline import SplitData
from jaxgen.metrics.quality import Scorer, trivial_generator
from jaxgen.nets.classifier import CNNClassifier
from jaxgen.train.loop import train_and_evaluate
from jaxgen.train.restore import restore_trained
from tests.helpers import tiny_config


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
