"""Fréchet distance between Gaussian fits of feature sets (FID's formula on any features)."""

import numpy as np

from jaxgen.metrics.intervals import bootstrap_sd


def gaussian_fit(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """Mean [d] and covariance [d, d] of features [n, d], in float64."""
  f = np.asarray(features, np.float64)
  return f.mean(0), np.cov(f, rowvar=False)


def frechet_distance(mean_a: np.ndarray, cov_a: np.ndarray, mean_b: np.ndarray,
                     cov_b: np.ndarray) -> float:
  """||m_a - m_b||^2 + tr(C_a + C_b - 2 (C_a C_b)^(1/2)).

  tr((C_a C_b)^(1/2)) equals the sum of square roots of the eigenvalues of the symmetric
  matrix C_a^(1/2) C_b C_a^(1/2), which `eigh` computes stably (no complex sqrtm).
  """
  vals, vecs = np.linalg.eigh(cov_a)
  sqrt_a = (vecs * np.sqrt(np.clip(vals, 0, None))) @ vecs.T
  inner = np.linalg.eigvalsh(sqrt_a @ cov_b @ sqrt_a)
  trace_sqrt = np.sum(np.sqrt(np.clip(inner, 0, None)))
  diff = mean_a - mean_b
  return float(diff @ diff + np.trace(cov_a) + np.trace(cov_b) - 2.0 * trace_sqrt)


def fcd(features_a: np.ndarray, features_b: np.ndarray) -> float:
  """Fréchet distance between two feature sets [n, d] and [m, d]."""
  return frechet_distance(*gaussian_fit(features_a), *gaussian_fit(features_b))


def fcd_and_sd(features: np.ndarray, ref_mean: np.ndarray, ref_cov: np.ndarray,
               num_boot: int = 200, seed: int = 0) -> tuple[float, float]:
  """FCD of features [n, d] against fixed reference statistics, and its bootstrap sd.

  The sd is over resamples of the n features (the reference is held fixed): the spread the
  FCD would show over fresh draws of n samples, so FCD +- 1.96 sd is a 95% interval.
  Resampling duplicates points, which shifts every resampled FCD up by about the finite-n
  bias; that shift moves the resamples' mean, not their spread, so we use the spread alone.
  """
  f = np.asarray(features, np.float64)
  value = frechet_distance(*gaussian_fit(f), ref_mean, ref_cov)
  sd = bootstrap_sd(lambda idx: frechet_distance(*gaussian_fit(f[idx]), ref_mean, ref_cov),
                    len(f), num_boot, seed)
  return value, sd
