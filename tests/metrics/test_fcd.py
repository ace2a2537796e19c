"""Fréchet distance against closed forms and scipy's matrix square root."""

import numpy as np
import scipy.linalg

from jaxgen.metrics.fcd import fcd, frechet_distance


def test_matches_sqrtm_reference():
  rng = np.random.default_rng(0)
  a, b = rng.standard_normal((6, 6)), rng.standard_normal((6, 6))
  cov_a, cov_b = a @ a.T + 0.1 * np.eye(6), b @ b.T + 0.1 * np.eye(6)
  mean_a, mean_b = rng.standard_normal(6), rng.standard_normal(6)
  ref = (np.sum((mean_a - mean_b) ** 2) + np.trace(cov_a + cov_b)
         - 2 * np.trace(scipy.linalg.sqrtm(cov_a @ cov_b)).real)
  np.testing.assert_allclose(frechet_distance(mean_a, cov_a, mean_b, cov_b), ref, rtol=1e-8)


def test_one_dimensional_closed_form():
  # W2^2 between N(m1, s1^2) and N(m2, s2^2) is (m1 - m2)^2 + (s1 - s2)^2.
  d = frechet_distance(np.array([1.0]), np.array([[4.0]]), np.array([-2.0]), np.array([[9.0]]))
  np.testing.assert_allclose(d, 9.0 + 1.0, rtol=1e-12)


def test_same_features_give_zero_and_shift_is_seen():
  feats = np.random.default_rng(1).standard_normal((500, 8))
  assert abs(fcd(feats, feats)) < 1e-8
  np.testing.assert_allclose(fcd(feats, feats + 1.0), 8.0, rtol=1e-6)
