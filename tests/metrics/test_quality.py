"""The sample-quality scorer: floor below ceiling, real data near the floor, label accuracy,
and error bars that match the spread they claim."""

import os

import numpy as np
import pytest

from jaxgen.data.pipeline import SplitData
from jaxgen.metrics import pinned, quality
from jaxgen.metrics.quality import trivial_generator
from jaxgen.train import loop


@pytest.fixture
def scorer(digit_scorer):
  return digit_scorer


@pytest.mark.slow
def test_floor_is_far_below_ceiling_and_needs_held_out_digits(scorer):
  refs = scorer.references(500)
  assert 0 <= refs["fcd_floor"] < 0.25 * refs["fcd_ceiling"] and refs["fcd_floor_sd"] > 0
  # 500 validation digits make the floor; at n = 501 there are not enough held-out images.
  assert scorer.max_floor_samples == 500 and "fcd_floor" not in scorer.references(501)


@pytest.mark.slow
def test_bootstrap_sd_matches_the_spread_over_fresh_draws(scorer):
  """The FCD's bootstrap sd over n images is the sd that independent sets of n images show:
  eight disjoint sets of 200 real train digits against the test statistics."""
  train = SplitData.open("embedded_digits", "train").arrays()["image"]
  sets = np.random.default_rng(1).permutation(len(train))[:1600].reshape(8, 200)
  fresh_sd = np.std([scorer.fcd(train[idx]) for idx in sets], ddof=1)
  _, boot_sd = scorer.fcd_and_sd(train[sets[0]])
  # The sd of 8 draws is itself uncertain by about 25%; a factor of two either way would be a
  # wrong interval (e.g. a bootstrap over the reference too, or over too few resamples).
  assert 0.5 * fresh_sd < boot_sd < 2.0 * fresh_sd


@pytest.mark.slow
def test_report_on_real_digits_with_labels(scorer):
  test = SplitData.open("embedded_digits", "test").arrays()
  report = scorer.report(test["image"][:500], test["label"][:500])
  assert report["fcd"] < report["fcd_floor"] + 0.5 * (report["fcd_ceiling"] - report["fcd_floor"])
  assert report["fcd_ci95_low"] < report["fcd"] < report["fcd_ci95_high"]
  assert report["cond_accuracy_ci95_low"] < report["cond_accuracy"] \
      < report["cond_accuracy_ci95_high"]
  assert report["cond_accuracy"] > 0.5  # the tiny classifier is far better than chance
  shuffled = scorer.report(test["image"][:500], np.roll(test["label"][:500], 1))
  assert shuffled["cond_accuracy"] < report["cond_accuracy"]
  # Real digits cover every class (a tenth each, read by the tiny scorer with some errors); one
  # class's digits alone leave the other classes empty.
  assert 0.02 < report["min_class_share"] <= 0.1
  ones = test["image"][test["label"] == 1][:50]
  assert scorer.report(ones)["min_class_share"] == 0.0


def test_trivial_generator_matches_pixel_statistics():
  images = np.random.default_rng(0).uniform(0.2, 0.8, (2000, 4, 4, 1)).astype(np.float32)
  fake = trivial_generator(images, 4000)
  np.testing.assert_allclose(fake.mean(0), images.mean(0), atol=0.02)


@pytest.mark.slow
def test_one_cached_classifier_serves_every_test_split(tmp_path, monkeypatch):
  """Scorers that share a train split train (and cache) one classifier, each with its own test
  statistics (the CycleGAN judges: both trained on trainA+trainB, tested on testA and testB)."""
  monkeypatch.setenv("JAXGEN_CACHE", str(tmp_path))
  recipe = quality.scorer_config

  def seconds_long_recipe(dataset, data_dir, kind="cnn"):
    c = recipe(dataset, data_dir, kind)
    c.num_train_steps = c.eval_every_steps = c.checkpoint_every_steps = 10
    return c

  trainings = []
  real_train = loop.train_and_evaluate

  def counted_train(config, workdir):
    trainings.append(workdir)
    return real_train(config, workdir)

  monkeypatch.setattr(quality, "scorer_config", seconds_long_recipe)
  monkeypatch.setattr(pinned, "manifest", lambda: {})  # as for a dataset nothing is pinned for
  monkeypatch.setattr(loop, "train_and_evaluate", counted_train)
  a = loop.trained_scorer("digits_two_domain", None, "trainA+trainB", "testA")
  b = loop.trained_scorer("digits_two_domain", None, "trainA+trainB", "testB")
  assert len(trainings) == 1
  cached = [d for d in os.listdir(tmp_path / "scorers" / f"v{quality.SCORER_VERSION}")
            if not d.endswith(".lock")]
  assert cached == ["digits_two_domain_trainA_and_trainB"]
  test_b = SplitData.open("digits_two_domain", "testB").arrays()["image"][:200]
  assert b.fcd(test_b) < a.fcd(test_b)  # each scores against its own test split
  # Against test the floor comes from the matching validation split; against validation
  # (training, tuning) there is no held-out split and no floor.
  assert b.max_floor_samples == len(SplitData.open("digits_two_domain", "validationB").arrays()[
      "image"])
  during_training = loop.trained_scorer("digits_two_domain", None, "trainA+trainB",
                                           "validationA")
  assert during_training.max_floor_samples == 0 and len(trainings) == 1
