"""Paired comparisons: McNemar's exact test, paired differences, the joint FCD bootstrap."""

import numpy as np
import pytest
from scipy import stats

from jaxgen.metrics import compare


def test_mcnemar_matches_the_exact_binomial_test_on_discordant_pairs():
  rng = np.random.default_rng(0)
  a = rng.random(400) < 0.9
  b = a.copy()
  flip = rng.choice(400, 30, replace=False)
  b[flip[:22]] = False  # B wrong where A right on 22 digits ...
  b[flip[22:]] = True  # ... and right on up to 8 where A may be wrong
  out = compare.mcnemar_exact(a, b)
  a_only, b_only = int(np.sum(a & ~b)), int(np.sum(~a & b))
  assert (out["a_only"], out["b_only"]) == (a_only, b_only)
  expected = stats.binomtest(a_only, a_only + b_only, 0.5).pvalue
  assert out["p_value"] == pytest.approx(expected, rel=1e-9)
  assert out["difference"] == pytest.approx(a.mean() - b.mean())
  assert out["difference_ci95_low"] < out["difference"] < out["difference_ci95_high"]
  # Identical readings: no discordant pair, p = 1, a zero-width interval at 0.
  same = compare.mcnemar_exact(a, a)
  assert same["p_value"] == 1.0 and same["difference"] == 0.0
  assert compare.verdict(same["difference_ci95_low"], same["difference_ci95_high"],
                         same["p_value"]) == "no difference"
  with pytest.raises(ValueError, match="equal-length"):
    compare.mcnemar_exact(a, b[:-1])


def test_paired_difference_is_far_tighter_than_the_unpaired_intervals():
  rng = np.random.default_rng(1)
  difficulty = rng.normal(90.0, 20.0, 300)  # per-image NLL shared by both models
  a = difficulty + rng.normal(0.5, 0.3, 300)
  b = difficulty + rng.normal(0.0, 0.3, 300)
  out = compare.paired_difference(a, b)
  assert out["difference"] == pytest.approx(np.mean(a - b))
  assert out["difference_ci95_low"] > 0  # a real 0.5 difference ...
  assert out["difference_se"] < 0.05 * np.std(a) / np.sqrt(300)  # ... the unpaired SE hides
  assert compare.verdict(out["difference_ci95_low"], out["difference_ci95_high"]) == "A higher"


def test_fcd_difference_resamples_both_sets_and_the_reference_together():
  rng = np.random.default_rng(2)
  reference = rng.normal(0.0, 1.0, (600, 4))
  close = rng.normal(0.0, 1.0, (300, 4))
  far = rng.normal(0.6, 1.0, (300, 4))
  out = compare.fcd_difference(close, far, reference, num_boot=100)
  assert out["difference"] == pytest.approx(out["fcd_a"] - out["fcd_b"])
  assert out["difference_ci95_high"] < 0 and out["share_a_lower"] == 1.0
  assert compare.verdict(out["difference_ci95_low"], out["difference_ci95_high"]) == "A lower"
  assert out["ratio"] == pytest.approx(out["fcd_a"] / out["fcd_b"])
  assert out["ratio_ci95_low"] < out["ratio"] < out["ratio_ci95_high"] < 1.0
  # Two draws of the same distribution: the interval holds 0.
  twin = rng.normal(0.0, 1.0, (300, 4))
  same = compare.fcd_difference(close, twin, reference, num_boot=100)
  assert same["difference_ci95_low"] < 0 < same["difference_ci95_high"]
  assert same["ratio_ci95_low"] < 1.0 < same["ratio_ci95_high"]
