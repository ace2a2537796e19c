"""Autoregressive sampling of code sequences, the baseline MaskGIT's speed claim is measured
against: one network call per code, as pure functions of the network as a callable.

`sample_cached` calls a one-step network with a key/value cache in a `lax.scan` (n calls, each
over one new token); `sample_uncached` runs the full causal network over the whole prefix for
every code (n calls over n tokens). With the same key they draw the same codes: code i uses
key i of `jax.random.split(rng, n)`.
"""

from typing import Any, Callable

import jax
import jax.numpy as jnp

from jaxgen.tokens.filtering import top_k_filter

# (cache, prev codes [b, 1]) -> (logits [b, 1, K], cache)
StepFn = Callable[[Any, jax.Array], tuple[jax.Array, Any]]
# prev codes [b, n] -> logits [b, n, K]
FullFn = Callable[[jax.Array], jax.Array]


def shift_right(codes: jax.Array) -> jax.Array:
  """codes [b, n] -> the code before each position [b, n] (position 0 gets 0, read as the
  label's slot by the network)."""
  return jnp.concatenate([jnp.zeros_like(codes[:, :1]), codes[:, :-1]], axis=1)


def _draw(key: jax.Array, logits: jax.Array, temperature: float, top_k: int = 0) -> jax.Array:
  """One code per row of logits [b, K], at `temperature`, among the `top_k` most likely codes
  when top_k > 0 (the usual filtering of autoregressive image decoders; 0: all codes)."""
  logits = top_k_filter(logits.astype(jnp.float32), top_k)
  return jax.random.categorical(key, logits / temperature, axis=-1)


def sample_cached(step_fn: StepFn, cache: Any, rng: jax.Array, batch: int, length: int,
                  temperature: float = 1.0, unroll: bool = False, top_k: int = 0) -> jax.Array:
  """Codes [batch, length], one cached network call per position (`unroll` writes the calls
  out, for XLA's cost analysis)."""
  def step(carry, key):
    cache, prev = carry  # prev [b]
    logits, cache = step_fn(cache, prev[:, None])  # [b, 1, K]
    code = _draw(key, logits[:, 0], temperature, top_k)
    return (cache, code), code

  keys = jax.random.split(rng, length)
  _, codes = jax.lax.scan(step, (cache, jnp.zeros((batch,), jnp.int32)), keys,
                          unroll=unroll)  # [n, b]
  return codes.T


def sample_uncached(full_fn: FullFn, rng: jax.Array, batch: int, length: int,
                    temperature: float = 1.0, top_k: int = 0) -> jax.Array:
  """Codes [batch, length], recomputing the whole causal network for each position."""
  keys = jax.random.split(rng, length)

  def step(i, codes):
    logits = full_fn(shift_right(codes))  # [b, n, K]; positions >= i do not affect position i
    code = _draw(keys[i], jax.lax.dynamic_index_in_dim(logits, i, axis=1, keepdims=False),
                 temperature, top_k)
    return jax.lax.dynamic_update_index_in_dim(codes, code, i, axis=1)

  return jax.lax.fori_loop(0, length, step, jnp.zeros((batch, length), jnp.int32))
