"""GAN losses as pure functions of discriminator outputs and images.

Discriminator outputs are raw scores (logits for the non-saturating loss, unbounded regression
targets for least squares, critic values for WGAN-GP), any shape; every loss is a mean over all
elements, so a PatchGAN's [b, h', w', 1] map and an image-level [b] vector are treated alike.
The gradient penalty is the one term that needs the critic itself: it receives it as a callable.
"""

import enum
from typing import Callable

import jax
import jax.numpy as jnp


class AdversarialLoss(enum.Enum):
  """Which adversarial objective both players optimise."""

  NON_SATURATING = "non_saturating"  # Goodfellow et al. 2014, with the -log D(G(z)) generator loss
  LEAST_SQUARES = "least_squares"  # Mao et al. 2017 (LSGAN), used by CycleGAN
  # Gulrajani et al. 2017, Wasserstein critic with a gradient penalty (TransGAN's loss). d_loss
  # and g_loss give its Wasserstein terms; the step adds `gradient_penalty` and `drift_penalty`.
  WGAN_GP = "wgan_gp"


def non_saturating_d_loss(real_logits: jax.Array, fake_logits: jax.Array) -> jax.Array:
  """-log sigmoid(real) - log(1 - sigmoid(fake)), averaged; softplus keeps it stable."""
  # -log sigmoid(t) = softplus(-t) and -log(1 - sigmoid(t)) = softplus(t).
  return jnp.mean(jax.nn.softplus(-real_logits)) + jnp.mean(jax.nn.softplus(fake_logits))


def non_saturating_g_loss(fake_logits: jax.Array) -> jax.Array:
  """-log sigmoid(fake), averaged: strong gradients when D confidently rejects the fakes."""
  return jnp.mean(jax.nn.softplus(-fake_logits))


def least_squares_d_loss(real_scores: jax.Array, fake_scores: jax.Array) -> jax.Array:
  """0.5 * [(D(real) - 1)^2 + D(fake)^2], averaged (CycleGAN halves D's loss)."""
  return 0.5 * (jnp.mean(jnp.square(real_scores - 1.0)) + jnp.mean(jnp.square(fake_scores)))


def least_squares_g_loss(fake_scores: jax.Array) -> jax.Array:
  """(D(G(x)) - 1)^2, averaged."""
  return jnp.mean(jnp.square(fake_scores - 1.0))


def wasserstein_d_loss(real_scores: jax.Array, fake_scores: jax.Array) -> jax.Array:
  """E[D(fake)] - E[D(real)]: the critic minimises it, estimating the Wasserstein-1 distance."""
  return jnp.mean(fake_scores) - jnp.mean(real_scores)


def wasserstein_g_loss(fake_scores: jax.Array) -> jax.Array:
  """-E[D(G(z))]."""
  return -jnp.mean(fake_scores)


def drift_penalty(real_scores: jax.Array) -> jax.Array:
  """E[D(x)^2] on real images (Karras et al. 2018): keeps the critic's values near 0, since the
  Wasserstein loss only sees differences and would let them drift without bound."""
  return jnp.mean(jnp.square(real_scores))


def gradient_penalty(critic: Callable[[jax.Array], jax.Array], real: jax.Array, fake: jax.Array,
                     rng: jax.Array, target: float = 1.0) -> jax.Array:
  """E[(||grad_x D(x)|| - target)^2] at random interpolates x = e real + (1 - e) fake, e ~ U[0, 1].

  real, fake: [b, ...]; critic: [b, ...] -> scores [b]. The critic must score each image on its own
  (no batch norm): the per-image gradients are then those of the summed scores.
  """
  shape = (real.shape[0],) + (1,) * (real.ndim - 1)
  e = jax.random.uniform(rng, shape, real.dtype)  # [b, 1, ...]
  x = e * real + (1.0 - e) * fake
  grads = jax.grad(lambda v: jnp.sum(critic(v)))(x)  # [b, ...]
  sq_norms = jnp.sum(jnp.square(grads).reshape(grads.shape[0], -1), axis=-1)  # [b]
  # The tiny offset keeps the norm's derivative finite where a gradient vanishes (a dead critic).
  return jnp.mean(jnp.square(jnp.sqrt(sq_norms + 1e-12) - target))


def d_loss(kind: AdversarialLoss, real: jax.Array, fake: jax.Array) -> jax.Array:
  """Discriminator loss of the chosen kind (for WGAN_GP its Wasserstein term only)."""
  if kind == AdversarialLoss.NON_SATURATING:
    return non_saturating_d_loss(real, fake)
  if kind == AdversarialLoss.WGAN_GP:
    return wasserstein_d_loss(real, fake)
  return least_squares_d_loss(real, fake)


def g_loss(kind: AdversarialLoss, fake: jax.Array) -> jax.Array:
  """Generator loss of the chosen kind."""
  if kind == AdversarialLoss.NON_SATURATING:
    return non_saturating_g_loss(fake)
  if kind == AdversarialLoss.WGAN_GP:
    return wasserstein_g_loss(fake)
  return least_squares_g_loss(fake)


def cycle_loss(images: jax.Array, reconstructed: jax.Array) -> jax.Array:
  """Cycle consistency ||F(G(x)) - x||_1, averaged over pixels and batch."""
  return jnp.mean(jnp.abs(reconstructed - images))


def identity_loss(images: jax.Array, mapped: jax.Array) -> jax.Array:
  """Identity ||G(y) - y||_1 for y already in G's target domain, averaged."""
  return jnp.mean(jnp.abs(mapped - images))


def real_accuracy(real: jax.Array, fake: jax.Array, threshold: float) -> jax.Array:
  """Fraction of real scores above and fake scores below `threshold` (0 logits, 0.5 for LSGAN)."""
  return 0.5 * (jnp.mean(real > threshold) + jnp.mean(fake < threshold))
