"""GAN losses against values computed by hand on tiny batches."""

import math

import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.gan import losses
from jaxgen.gan.losses import AdversarialLoss

REAL = jnp.array([0.0, 2.0])  # D's scores on two real images
FAKE = jnp.array([-1.0, 1.0])  # and on two fakes


def _softplus(x: float) -> float:
  return math.log1p(math.exp(x))


@pytest.mark.parametrize("name, value, expected", [
    # -log sigmoid(r) = softplus(-r); -log(1 - sigmoid(f)) = softplus(f); means over 2.
    ("ns_d", losses.non_saturating_d_loss(REAL, FAKE),
     (_softplus(0.0) + _softplus(-2.0)) / 2 + (_softplus(-1.0) + _softplus(1.0)) / 2),
    ("ns_g", losses.non_saturating_g_loss(FAKE), (_softplus(1.0) + _softplus(-1.0)) / 2),
    # 0.5 * (mean((r - 1)^2) + mean(f^2)) = 0.5 * ((1 + 1) / 2 + (1 + 1) / 2) = 1.
    ("ls_d", losses.least_squares_d_loss(REAL, FAKE), 1.0),
    # mean((f - 1)^2) = (4 + 0) / 2.
    ("ls_g", losses.least_squares_g_loss(FAKE), 2.0),
    ("dispatch_d", losses.d_loss(AdversarialLoss.LEAST_SQUARES, REAL, FAKE), 1.0),
    ("dispatch_g", losses.g_loss(AdversarialLoss.NON_SATURATING, FAKE),
     (_softplus(1.0) + _softplus(-1.0)) / 2),
    # D is right on real 2.0 (> 0) and fake -1.0 (< 0): (1/2 + 1/2) / 2.
    ("accuracy", losses.real_accuracy(REAL, FAKE, 0.0), 0.5),
])
def test_adversarial_losses(name, value, expected):
  np.testing.assert_allclose(float(value), expected, rtol=1e-6, err_msg=name)


def test_non_saturating_matches_log_sigmoid_for_large_logits():
  """softplus form stays finite where log(sigmoid) would underflow."""
  value = losses.non_saturating_g_loss(jnp.array([-100.0]))
  np.testing.assert_allclose(float(value), 100.0, rtol=1e-6)


def test_cycle_and_identity_l1():
  x = jnp.zeros((2, 2, 2, 1))
  y = x.at[0, 0, 0, 0].set(1.0).at[1, 1, 1, 0].set(-0.5)  # |diff| sums to 1.5 over 8 pixels
  np.testing.assert_allclose(float(losses.cycle_loss(x, y)), 1.5 / 8, rtol=1e-6)
  np.testing.assert_allclose(float(losses.identity_loss(x, y)), 1.5 / 8, rtol=1e-6)


def test_patch_scores_average_like_vectors():
  """A PatchGAN's [b, h', w', 1] map gives the same loss as its flattened scores."""
  scores = jnp.arange(8.0).reshape(2, 2, 2, 1) / 8
  np.testing.assert_allclose(float(losses.least_squares_g_loss(scores)),
                             float(losses.least_squares_g_loss(scores.reshape(-1))), rtol=1e-6)
