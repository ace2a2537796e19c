"""Masked signal modelling (MinD-Vis stage A, MAE's recipe on 1-D patches): which patches stay
visible, and the reconstruction loss and correlation on the hidden ones only."""

import jax
import jax.numpy as jnp


def num_visible(num_patches: int, mask_ratio: float) -> int:
  """Patches left visible at `mask_ratio` (at least one): round(n * (1 - ratio))."""
  return max(1, int(round(num_patches * (1.0 - mask_ratio))))


def random_keep(rng: jax.Array, batch: int, num_patches: int,
                mask_ratio: float) -> tuple[jax.Array, jax.Array]:
  """A uniformly random visible subset per example, as MAE draws it (argsort of noise).

  Returns keep int32 [batch, k], sorted, and hidden bool [batch, n] (True = masked)."""
  k = num_visible(num_patches, mask_ratio)
  order = jnp.argsort(jax.random.uniform(rng, (batch, num_patches)), axis=1)  # [b, n]
  keep = jnp.sort(order[:, :k], axis=1).astype(jnp.int32)  # [b, k]
  hidden = jnp.ones((batch, num_patches), bool).at[jnp.arange(batch)[:, None], keep].set(False)
  return keep, hidden


def patchify(signals: jax.Array, patch: int) -> jax.Array:
  """[b, v] -> [b, v / patch, patch]."""
  b, v = signals.shape
  return signals.reshape(b, v // patch, patch)


def masked_mse(pred: jax.Array, target: jax.Array, hidden: jax.Array) -> jax.Array:
  """Mean squared error over the hidden patches only: pred, target [b, n, p], hidden [b, n]
  -> [b] (visible patches never enter the loss)."""
  err = jnp.mean(jnp.square(pred - target), axis=-1)  # [b, n]
  weight = hidden.astype(err.dtype)
  return jnp.sum(err * weight, axis=1) / jnp.maximum(jnp.sum(weight, axis=1), 1.0)


def masked_correlation(pred: jax.Array, target: jax.Array, hidden: jax.Array) -> jax.Array:
  """Pearson correlation between predicted and true values over each example's hidden
  patches: [b, n, p], [b, n, p], [b, n] -> [b]."""
  w = jnp.broadcast_to(hidden[..., None], pred.shape).astype(pred.dtype)  # [b, n, p]
  count = jnp.maximum(jnp.sum(w, axis=(1, 2)), 1.0)[:, None, None]

  def centred(x):
    return (x - jnp.sum(x * w, axis=(1, 2), keepdims=True) / count) * w

  a, c = centred(pred), centred(target)
  cov = jnp.sum(a * c, axis=(1, 2))
  return cov / jnp.sqrt(jnp.sum(a * a, axis=(1, 2)) * jnp.sum(c * c, axis=(1, 2)) + 1e-12)
