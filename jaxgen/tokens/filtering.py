"""Filters on code logits before a draw, shared by the code models' samplers."""

import jax
import jax.numpy as jnp


def kth_largest(logits: jax.Array, k: int) -> jax.Array:
  """logits [..., K] -> [..., 1], the k-th largest of each row counted with multiplicity (as
  `lax.top_k(logits, k)[0][..., -1:]`). By k rounds of a row maximum: on CPU, XLA's top_k sorts
  every row (290 ms for 12,544 rows of 256 codes here, against 37 ms for 8 rounds)."""
  def take_max(_, carry):
    rest, kth, taken = carry  # [..., K], [..., 1], [..., 1]: codes taken out so far
    top = rest.max(axis=-1, keepdims=True)
    at_top = rest == top
    kth = jnp.where(taken < k, top, kth)  # fixed once k codes are out
    taken = taken + at_top.sum(axis=-1, keepdims=True)
    return jnp.where(at_top, -jnp.inf, rest), kth, taken

  start = (logits, jnp.full(logits.shape[:-1] + (1,), jnp.inf, logits.dtype),
           jnp.zeros(logits.shape[:-1] + (1,), jnp.int32))
  return jax.lax.fori_loop(0, k, take_max, start)[1]


def top_k_filter(logits: jax.Array, top_k: int) -> jax.Array:
  """logits [..., K] with all but the `top_k` largest of each row set to -inf (0 or >= K: all
  kept; ties at the k-th value all kept): the usual filtering of image-token decoders, which
  keeps a draw off the long tail of unlikely codes (stray ink in a digit's background)."""
  if not 0 < top_k < logits.shape[-1]:
    return logits
  return jnp.where(logits < kth_largest(logits, top_k), -jnp.inf, logits)
