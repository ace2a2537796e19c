"""Masked signal modelling's masking and losses, and the n-way / pair-wise metrics."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.brain import masking, metrics


@pytest.mark.parametrize("n,ratio", [(130, 0.75), (16, 0.5), (7, 0.9)])
def test_masking_keeps_exactly_the_unmasked_fraction(n, ratio):
  keep, hidden = masking.random_keep(jax.random.key(0), 8, n, ratio)
  k = int(round(n * (1 - ratio)))
  assert keep.shape == (8, k) and np.all(np.asarray(hidden).sum(1) == n - k)
  for row, h in zip(np.asarray(keep), np.asarray(hidden)):
    assert len(set(row)) == k and np.all(np.diff(row) > 0) and not h[row].any()
  # Different examples get different subsets.
  assert len({tuple(r) for r in np.asarray(keep)}) > 1


def test_loss_ignores_visible_patches_and_correlation_is_one_for_a_perfect_prediction():
  target = jax.random.normal(jax.random.key(0), (4, 10, 16))
  pred = jax.random.normal(jax.random.key(1), (4, 10, 16))
  _, hidden = masking.random_keep(jax.random.key(2), 4, 10, 0.75)
  changed_visible = jnp.where(hidden[..., None], pred, pred + 100.0)
  np.testing.assert_allclose(masking.masked_mse(changed_visible, target, hidden),
                             masking.masked_mse(pred, target, hidden), rtol=1e-6)
  changed_hidden = jnp.where(hidden[..., None], pred + 1.0, pred)
  assert np.all(masking.masked_mse(changed_hidden, target, hidden)
                > masking.masked_mse(pred, target, hidden))
  perfect = jnp.where(hidden[..., None], target, pred)
  np.testing.assert_allclose(masking.masked_mse(perfect, target, hidden), 0.0, atol=1e-7)
  np.testing.assert_allclose(masking.masked_correlation(perfect, target, hidden), 1.0, atol=1e-5)


def test_n_way_and_pairwise_identification():
  probs = np.eye(10)[np.arange(20) % 10] * 0.9 + 0.01  # always right
  labels = np.arange(20) % 10
  for n in (2, 5, 10):
    assert metrics.n_way_top1(probs, labels, n, 20).mean() == 1.0
  uniform_random = np.random.default_rng(0).random((400, 10))
  acc = metrics.n_way_top1(uniform_random, np.zeros(400, int), 2, 20).mean()
  assert abs(acc - 0.5) < 0.05  # chance is 1/n
  sim = np.array([[1.0, 0.5, 0.2], [0.9, 0.3, 0.1], [0.0, 0.0, 0.5]])
  np.testing.assert_allclose(metrics.pairwise_identification(sim), [1.0, 0.5, 1.0])
  images = np.random.default_rng(1).random((4, 28, 28, 1))
  np.testing.assert_allclose(np.diag(metrics.correlation_matrix(images, images)), 1.0)
  np.testing.assert_allclose(np.diag(metrics.ssim_matrix(images, images)), 1.0)
