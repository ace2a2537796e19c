"""GAN losses as pure functions of discriminator outputs and images.

Discriminator outputs are raw scores (logits for the non-saturating loss, unbounded regression
targets for least squares), any shape; every loss is a mean over all elements, so a PatchGAN's
[b, h', w', 1] map and an image-level [b] vector are treated alike.
"""

import enum

import jax
import jax.numpy as jnp


class AdversarialLoss(enum.Enum):
  """Which adversarial objective both players optimise."""

  NON_SATURATING = "non_saturating"  # Goodfellow et al. 2014, with the -log D(G(z)) generator loss
  LEAST_SQUARES = "least_squares"  # Mao et al. 2017 (LSGAN), used by CycleGAN


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


def d_loss(kind: AdversarialLoss, real: jax.Array, fake: jax.Array) -> jax.Array:
  """Discriminator loss of the chosen kind."""
  if kind == AdversarialLoss.NON_SATURATING:
    return non_saturating_d_loss(real, fake)
  return least_squares_d_loss(real, fake)


def g_loss(kind: AdversarialLoss, fake: jax.Array) -> jax.Array:
  """Generator loss of the chosen kind."""
  if kind == AdversarialLoss.NON_SATURATING:
    return non_saturating_g_loss(fake)
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
