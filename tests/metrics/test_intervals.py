"""Error bars: the Wilson interval against published values and its coverage, standard errors."""

import numpy as np
import pytest

from jaxgen.metrics.intervals import bootstrap_sd, mean_and_se, wilson_interval


def test_wilson_interval_matches_the_closed_form_values():
  # Newcombe (1998), table I: 81/263 -> 0.2553 to 0.3662; 0/10 -> 0 to 0.2775.
  np.testing.assert_allclose(wilson_interval(81, 263), (0.2553, 0.3662), atol=1e-4)
  np.testing.assert_allclose(wilson_interval(0, 10), (0.0, 0.2775), atol=1e-4)
  lo, hi = wilson_interval(200, 200)
  assert hi == 1.0 and 0.98 < lo < 1.0  # all correct still has an interval below 1
  with pytest.raises(ValueError):
    wilson_interval(1, 0)


def test_wilson_interval_covers_95_percent():
  rng = np.random.default_rng(0)
  p, n = 0.9, 200
  hits = [lo <= p <= hi for lo, hi in (wilson_interval(int(k), n) for k in rng.binomial(n, p, 4000))]
  assert 0.93 < np.mean(hits) < 0.97


def test_mean_and_se_and_bootstrap_sd_of_a_mean():
  values = np.random.default_rng(0).normal(3.0, 2.0, 400)
  mean, se = mean_and_se(values)
  assert mean == pytest.approx(values.mean()) and se == pytest.approx(2.0 / 20, rel=0.1)
  # The bootstrap sd of the mean is the standard error.
  boot = bootstrap_sd(lambda idx: values[idx].mean(), len(values), num_boot=400)
  assert boot == pytest.approx(se, rel=0.15)
  assert mean_and_se(np.array([5.0])) == (5.0, 0.0)
