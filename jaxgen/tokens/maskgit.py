"""MaskGIT (Chang et al. 2022): masked token training and iterative parallel decoding, as pure
functions of arrays and of the network as a callable.

Tokens are code indices [b, n]; `mask_id` (= the codebook size) marks a masked position.

Training: a ratio r ~ U[0, 1) per sequence, ceil(gamma(r) n) positions masked (gamma is the
cosine schedule cos(pi r / 2), at least one position), cross-entropy on the masked positions
only.

Decoding, T steps in a `lax.fori_loop`: at step t the network predicts every position; a code is
sampled at each masked one (among the top_k likeliest when top_k > 0); its confidence is its
log-probability plus Gumbel noise scaled by choice_temperature (1 - (t + 1) / T), annealed to 0;
positions known before the step get infinite confidence. Then the floor(gamma((t + 1) / T) n)
least confident positions are masked again (at least one while steps remain, at most one fewer
than were masked, none at the last step), so every position is revealed by the end and a
revealed or given token never changes.
"""

import math
from typing import Callable

import jax
import jax.numpy as jnp
import optax

from jaxgen.tokens.filtering import top_k_filter

# (tokens [b, n] with mask ids, labels [b]) -> logits [b, n, num_codes]
LogitsFn = Callable[[jax.Array, jax.Array], jax.Array]


def cosine_schedule(r: jax.Array) -> jax.Array:
  """gamma(r) = cos(pi r / 2): the share of tokens masked at ratio r in [0, 1]."""
  return jnp.cos(0.5 * math.pi * r)


def random_mask(rng: jax.Array, batch: int, n: int) -> jax.Array:
  """bool [batch, n], True where masked: ceil(gamma(r) n) random positions per row (>= 1), with
  r ~ U[0, 1) drawn per row."""
  r_key, order_key = jax.random.split(rng)
  r = jax.random.uniform(r_key, (batch,))
  count = jnp.clip(jnp.ceil(cosine_schedule(r) * n), 1, n).astype(jnp.int32)  # [batch]
  # A random rank per position: the `count` lowest ranks are masked.
  ranks = jnp.argsort(jax.random.uniform(order_key, (batch, n)), axis=-1).argsort(axis=-1)
  return ranks < count[:, None]


def masked_cross_entropy(logits: jax.Array, targets: jax.Array, mask: jax.Array,
                         label_smoothing: float = 0.0) -> jax.Array:
  """Mean cross-entropy over masked positions: logits [b, n, K], targets [b, n], mask [b, n]."""
  k = logits.shape[-1]
  labels = optax.smooth_labels(jax.nn.one_hot(targets, k), label_smoothing)
  ce = optax.softmax_cross_entropy(logits, labels)  # [b, n]
  return jnp.sum(ce * mask) / jnp.maximum(jnp.sum(mask), 1)


def guided_logits(logits_fn: LogitsFn, tokens: jax.Array, labels: jax.Array, null_label: int,
                  guidance_scale: float) -> jax.Array:
  """Classifier-free guidance on logits: (1 + w) l(x | y) - w l(x | null); w = 0 is plain."""
  if guidance_scale == 0.0:
    return logits_fn(tokens, labels)
  both = logits_fn(jnp.concatenate([tokens, tokens]),
                   jnp.concatenate([labels, jnp.full_like(labels, null_label)]))
  cond, uncond = jnp.split(both, 2)
  return (1.0 + guidance_scale) * cond - guidance_scale * uncond


def decode(logits_fn: LogitsFn, rng: jax.Array, tokens: jax.Array, labels: jax.Array,
           mask_id: int, num_steps: int, temperature: float = 1.0,
           choice_temperature: float = 4.5, unroll: bool = False, top_k: int = 0) -> jax.Array:
  """Iterative parallel decoding from tokens [b, n] (mask_id where unknown) -> tokens [b, n]
  with every position a code. `logits_fn` may already apply guidance; codes are drawn among
  the `top_k` likeliest at each position (0: all). `unroll` writes the steps out (same result;
  lets XLA's cost analysis, which counts a loop body once, count all)."""
  b, n = tokens.shape
  unknown_at_start = jnp.sum(tokens == mask_id, axis=-1)  # [b]

  def step(t, carry):
    tokens, rng = carry
    rng, sample_key, gumbel_key = jax.random.split(rng, 3)
    masked = tokens == mask_id  # [b, n]
    logits = logits_fn(tokens, labels).astype(jnp.float32)  # [b, n, K]
    log_probs = jax.nn.log_softmax(top_k_filter(logits, top_k) / temperature, axis=-1)
    sampled = jax.random.categorical(sample_key, log_probs, axis=-1)  # [b, n]
    sampled = jnp.where(masked, sampled, tokens)  # known tokens stay
    chosen = jnp.take_along_axis(log_probs, sampled[..., None], axis=-1)[..., 0]  # [b, n]
    ratio = (t + 1.0) / num_steps
    noise = choice_temperature * (1.0 - ratio) * jax.random.gumbel(gumbel_key, (b, n))
    confidence = jnp.where(masked, chosen + noise, jnp.inf)
    # How many stay masked after this step: the schedule's share of those unknown at the start,
    # at least 1 before the last step, and at most one fewer than are masked now.
    still = jnp.floor(cosine_schedule(ratio) * unknown_at_start).astype(jnp.int32)  # [b]
    now = jnp.sum(masked, axis=-1)
    still = jnp.where(t < num_steps - 1, jnp.clip(still, 1, jnp.maximum(now - 1, 0)), 0)
    still = jnp.minimum(still, now)
    # Mask the `still` least confident positions (by rank: exactly `still`, ties or not;
    # known positions have infinite confidence and rank last).
    ranks = jnp.argsort(jnp.argsort(confidence, axis=-1), axis=-1)  # [b, n]
    return jnp.where(ranks < still[:, None], mask_id, sampled), rng

  tokens, _ = jax.lax.fori_loop(0, num_steps, step, (tokens, rng), unroll=unroll)
  return tokens
