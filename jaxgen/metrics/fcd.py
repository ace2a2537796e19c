"""Fréchet distance between Gaussian fits of feature sets (FID's formula on any features)."""

import numpy as np


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
