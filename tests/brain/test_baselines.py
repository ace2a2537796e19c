"""The linear baselines recover what a linear forward model makes recoverable, and nothing
from signals that carry no stimulus; identification and correlations behave as defined."""

import numpy as np

from jaxgen.brain import baselines, metrics


def _data(rng, n, noise_only=False):
  """Images [n, 6, 6, 1] of 3 classes (a bright quadrant each, plus texture) and their
  signals [n, 80]: a fixed linear map of the pixels plus noise (or noise alone)."""
  labels = rng.integers(0, 3, n)
  images = rng.uniform(0, 0.3, (n, 6, 6, 1))
  for i, c in enumerate(labels):
    images[i, 3 * (c % 2):3 * (c % 2) + 3, 3 * (c // 2):3 * (c // 2) + 3] += 0.7
  weights = np.random.default_rng(99).standard_normal((36, 80))
  signal = images.reshape(n, -1) @ weights
  noise = rng.standard_normal((n, 80)) * (5.0 if noise_only else 0.3)
  return (noise if noise_only else signal + noise), images, labels


def test_identification_is_the_argmax_of_each_row():
  similarity = np.array([[0.9, 0.1, 0.2], [0.8, 0.5, 0.1], [0.0, 0.1, 0.3]])
  np.testing.assert_array_equal(metrics.identification(similarity), [1.0, 0.0, 1.0])
  x = np.random.default_rng(0).standard_normal((4, 10))
  np.testing.assert_allclose(metrics.correlation_matrix(x, x)[0, 1], np.corrcoef(x)[0, 1])


def test_baselines_decode_a_linear_code_and_nothing_from_noise():
  rng = np.random.default_rng(0)
  (tx, ti, ty), (vx, vi, vy), (sx, si, sy) = (_data(rng, n) for n in (300, 60, 40))
  features = lambda images: images.reshape(len(images), 4, 9).mean(-1)  # a stand-in scorer
  labels, alpha = baselines.label_decoder(tx, ty, vx, vy)
  assert np.mean(labels(sx) == sy) > 0.9 and alpha in metrics.ALPHAS
  feats, _ = baselines.feature_decoder(tx, features(ti), vx, features(vi))
  retrieved = metrics.identification(metrics.correlation_matrix(feats(sx), features(si)))
  pixels, _ = baselines.pixel_decoder(tx, ti, vx, vi)
  recon = pixels(sx)
  assert recon.shape == si.shape and recon.min() >= 0.0 and recon.max() <= 1.0
  by_pixels = metrics.identification(metrics.correlation_matrix(recon, si))
  assert by_pixels.mean() > 0.8 and retrieved.mean() > 1 / 40 * 3
  # Signals that carry no stimulus: labels near chance (1/3), identification near 1/40.
  (nx, _, ny), (mx, _, my) = _data(rng, 300, True), _data(rng, 60, True)
  noise_labels, _ = baselines.label_decoder(nx, ty, mx, vy)
  nx_test = _data(rng, 40, True)[0]
  assert np.mean(noise_labels(nx_test) == sy) < 0.6
  noise_pixels, _ = baselines.pixel_decoder(nx, ti, mx, vi)
  assert metrics.identification(metrics.correlation_matrix(noise_pixels(nx_test), si)).mean() < 0.2
