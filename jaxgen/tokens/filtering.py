"""Filters on code logits before a draw, shared by the code models' samplers."""

import jax
import jax.numpy as jnp


def top_k_filter(logits: jax.Array, top_k: int) -> jax.Array:
  """logits [..., K] with all but the `top_k` largest of each row set to -inf (0 or >= K: all
  kept): the usual filtering of image-token decoders, which keeps a draw off the long tail of
  unlikely codes (stray ink in a digit's background)."""
  if not 0 < top_k < logits.shape[-1]:
    return logits
  kth = jax.lax.top_k(logits, top_k)[0][..., -1:]  # [..., 1], the k-th largest logit
  return jnp.where(logits < kth, -jnp.inf, logits)
