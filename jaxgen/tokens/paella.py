"""Paella (Rampas et al. 2022): diffusion on VQ codes by random token replacement, as pure
functions of arrays and of the network as a callable.

Noising to level t in [0, 1]: each code is replaced, independently with probability
`replace_probability(t)`, by a code drawn uniformly from the codebook (it may draw itself).
The network sees the noised codes, the level and the label, and predicts the clean code at
every position (cross-entropy everywhere, label smoothing). Sampling runs levels from 1 to 0:
start from uniformly random codes; at each level predict the clean codes (a draw at
`temperature`, with classifier-free guidance on the logits and, as Paella's sampler does,
locally typical filtering), then renoise the prediction to the next level; the last step
returns the prediction itself.
"""

from typing import Callable

import jax
import jax.numpy as jnp

# (codes [b, n], labels [b], levels [b]) -> logits [b, n, K]
LevelLogitsFn = Callable[[jax.Array, jax.Array, jax.Array], jax.Array]


def replace_probability(t: jax.Array) -> jax.Array:
  """Share of codes replaced at level t: sin(pi t / 2), 0 at t = 0 and 1 at t = 1 (a schedule
  that spends more of the levels on light noise than a linear one)."""
  return jnp.sin(0.5 * jnp.pi * t)


def add_noise(rng: jax.Array, codes: jax.Array, t: jax.Array, num_codes: int,
              replacements: jax.Array | None = None) -> tuple[jax.Array, jax.Array]:
  """codes [b, n] noised to levels t [b]; returns (noised codes, which were replaced [b, n]).
  A replaced code takes a uniformly random code, or the same position's code of
  `replacements` [b, n] when given (the sampler's re-noising with its initial noise)."""
  which_key, code_key = jax.random.split(rng)
  replaced = jax.random.bernoulli(which_key, replace_probability(t)[:, None], codes.shape)
  if replacements is None:
    replacements = jax.random.randint(code_key, codes.shape, 0, num_codes)
  return jnp.where(replaced, replacements, codes), replaced


def levels(num_steps: int) -> jax.Array:
  """The sampler's levels [num_steps + 1], from 1 down to 0 evenly."""
  return jnp.linspace(1.0, 0.0, num_steps + 1)


def typical_filter(logits: jax.Array, mass: float) -> jax.Array:
  """Locally typical filtering (Meister et al. 2023), logits [..., K] -> [..., K]: keep the
  fewest codes whose surprisal -log p lies closest to the distribution's entropy that together
  hold at least `mass` of its probability, and give the rest -inf. It drops both the
  near-certain code of a flat distribution and the long tail that label smoothing teaches
  (0.1 of the mass spread over every code), which a plain draw at temperature 1 picks often."""
  log_p = jax.nn.log_softmax(logits, axis=-1)  # [..., K]
  entropy = -jnp.sum(jnp.exp(log_p) * log_p, axis=-1, keepdims=True)  # [..., 1]
  distance = jnp.abs(-log_p - entropy)  # [..., K]
  order = jnp.argsort(distance, axis=-1)  # most typical first
  held = jnp.cumsum(jnp.take_along_axis(jnp.exp(log_p), order, axis=-1), axis=-1)  # [..., K]
  # The code whose addition first reaches `mass` is kept with those before it.
  last = jnp.minimum(jnp.sum(held < mass, axis=-1, keepdims=True), logits.shape[-1] - 1)
  cutoff = jnp.take_along_axis(jnp.take_along_axis(distance, order, axis=-1), last, axis=-1)
  return jnp.where(distance > cutoff, -jnp.inf, logits)


# How the sampler re-noises its prediction to the next level: replaced codes take the initial
# noise's code at that position (Paella's renoise_mode "start", the authors' default) or fresh
# random codes.
RENOISE_MODES = ("start", "random")


def sample(logits_fn: LevelLogitsFn, rng: jax.Array, labels: jax.Array, length: int,
           num_codes: int, num_steps: int, temperature: float = 1.0,
           unroll: bool = False, typical_mass: float = 1.0, *,
           final_temperature: float | None = None, renoise: str = "start") -> jax.Array:
  """Codes [b, length] after num_steps predict-and-renoise steps from random codes.

  Each draw keeps the `typical_mass` most typical probability (1: no filtering) and is made at
  a temperature annealed linearly from `temperature` at the first step to `final_temperature`
  at the last (None: constant, as Paella v1; its later versions anneal 1.0 to 0.2). `renoise`
  is one of RENOISE_MODES. `unroll` writes the steps out, for XLA's cost analysis.
  """
  if renoise not in RENOISE_MODES:
    raise ValueError(f"renoise must be one of {RENOISE_MODES}, got {renoise!r}")
  b = labels.shape[0]
  init_key, rng = jax.random.split(rng)
  start = jax.random.randint(init_key, (b, length), 0, num_codes)  # [b, n]
  ts = levels(num_steps)
  end = temperature if final_temperature is None else final_temperature
  temperatures = jnp.linspace(temperature, end, num_steps)  # [num_steps]

  def step(i, carry):
    codes, rng = carry
    rng, draw_key, noise_key = jax.random.split(rng, 3)
    logits = logits_fn(codes, labels, jnp.full((b,), ts[i])).astype(jnp.float32)
    if typical_mass < 1.0:
      logits = typical_filter(logits, typical_mass)
    predicted = jax.random.categorical(draw_key, logits / temperatures[i], axis=-1)  # [b, n]
    renoised, _ = add_noise(noise_key, predicted, jnp.full((b,), ts[i + 1]), num_codes,
                            start if renoise == "start" else None)
    return renoised, rng

  # Levels ts[1..num_steps]: the last renoises to level 0, which replaces nothing.
  codes, _ = jax.lax.fori_loop(0, num_steps, step, (start, rng), unroll=unroll)
  return codes
