"""GAN losses against values computed by hand on tiny batches."""

import math

import jax
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
    # Wasserstein: mean(fake) - mean(real) = 0 - 1; -mean(fake + 1) = -1; drift mean(real^2) = 4/2.
    ("wgan_d", losses.wasserstein_d_loss(REAL, FAKE), -1.0),
    ("wgan_g", losses.wasserstein_g_loss(FAKE + 1.0), -1.0),
    ("drift", losses.drift_penalty(REAL), 2.0),
    ("dispatch_wgan_d", losses.d_loss(AdversarialLoss.WGAN_GP, REAL, FAKE), -1.0),
    ("dispatch_wgan_g", losses.g_loss(AdversarialLoss.WGAN_GP, FAKE + 1.0), -1.0),
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


def _penalty(critic):
  """The gradient penalty of `critic`, jitted: one compilation instead of an eager op each."""
  return jax.jit(lambda real, fake, rng: losses.gradient_penalty(critic, real, fake, rng))


def test_gradient_penalty_of_a_linear_critic_is_the_closed_form():
  """D(x) = w . x has gradient w at every interpolate: the penalty is (|w| - 1)^2."""
  w = np.zeros((2, 2, 1), np.float32)
  w[0, 0, 0], w[1, 1, 0] = 2.0, -2.0  # |w| = sqrt(8)
  rng = np.random.default_rng(0)
  real, fake = (rng.normal(size=(5, 2, 2, 1)).astype(np.float32) for _ in range(2))
  penalty = _penalty(lambda x: jnp.einsum("bhwc,hwc->b", x, w))(real, fake, jax.random.key(2))
  np.testing.assert_allclose(float(penalty), (math.sqrt(8.0) - 1.0) ** 2, rtol=1e-5)


def test_gradient_penalty_is_per_image_at_uniform_interpolates():
  """D(x) = |x|^2 / 2 has gradient x. With real = 2u and fake = u for unit u, the interpolate
  (1 + e) u has gradient norm 1 + e, so the penalty is mean(e^2): 1/3 for e ~ U[0, 1]; with
  real = fake it is the mean over images of (|x_i| - 1)^2, per image, not of the batch."""
  penalty = _penalty(lambda x: 0.5 * jnp.sum(jnp.square(x), axis=(1, 2, 3)))  # D: [b]
  u = np.random.default_rng(0).normal(size=(1000, 2, 2, 1)).astype(np.float32)
  u /= np.sqrt(np.sum(np.square(u), axis=(1, 2, 3), keepdims=True))
  # e^2 has standard deviation sqrt(4 / 45) = 0.30: the mean of 1000 is 1/3 +- 0.0094.
  value = float(penalty(2.0 * u, u, jax.random.key(1)))
  assert abs(value - 1.0 / 3.0) < 0.04, value
  x = np.array([1.0, 3.0, 0.5], np.float32).reshape(3, 1, 1, 1)  # norms 1, 3, 0.5
  np.testing.assert_allclose(float(penalty(x, x, jax.random.key(2))), (0.0 + 4.0 + 0.25) / 3,
                             rtol=1e-6)


def test_gradient_penalty_of_a_dead_critic_has_a_finite_gradient():
  """At a critic whose input gradient is 0 the norm's derivative would be 0/0."""
  def penalty(a):
    critic = lambda x: a * jnp.sum(x, axis=(1, 2, 3))  # gradient a everywhere
    return losses.gradient_penalty(critic, jnp.ones((2, 2, 2, 1)), jnp.zeros((2, 2, 2, 1)),
                                   jax.random.key(0))

  value, grad = jax.jit(jax.value_and_grad(penalty))(0.0)
  np.testing.assert_allclose(float(value), 1.0, rtol=1e-5)
  assert np.isfinite(float(grad))
