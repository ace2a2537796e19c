"""Layers shared by several networks.

Why `GroupNorm` and `dot_product_attention` here rather than flax's and jax's: measured on XLA's
CPU backend (AVX2 EPYC, 2 cores; issue 12), flax.linen.GroupNorm reduces over a [b, h, w, g, c/g]
view, which XLA compiles to a slow strided reduction: GroupNorm + SiLU at b64 32x32x64 took
110 ms forward and 86 ms forward + backward, against 19 ms and 24 ms when the per-channel sums
are taken first (contiguous over c) and then summed per group. jax.nn.dot_product_attention's
XLA path contracts [b, t, heads, d] operands in place; transposing to [b, heads, t, d] first made
the U-Net's 16x16 attention (b64, 4 heads of 32) 1.5x faster forward and 1.3x forward + backward.
Both are checked against the originals, values and gradients, in tests/nets/test_layers.py.
The attention divides by the softmax's sum after the second matmul ([t, d] values rather than
[t, s] weights), and when the float32 logits would pass 48 MB it runs over chunks of queries of
about 32 MB of logits (this CPU's L3), each recomputed in the backward pass rather than stored:
issue 14's TransGAN 28x28 stage (b32, 784 tokens, 4 heads of 8) went from 1.24 s to 0.21-0.25 s
forward and from 2.7 s to 0.95-1.1 s forward + backward, in one core's CPU time; the ViT and
14x14 sizes and the U-Net's b32 train step stay unchunked, and all were as fast or faster
(experiments/bench/results/attention_ratios.txt).

Why `UpsampleConv` instead of `nn.ConvTranspose(strides=2)`: XLA's CPU backend has no fast path
for the input-dilated convolutions that a strided transposed convolution lowers to; measured
here (batch 128, 14x14x32 -> 28x28x32, forward + backward), ConvTranspose 4x4/2 took 1,249 ms
and this layer 120 ms. A 2x2 convolution to 4x the channels followed by depth-to-space gives
each output pixel the same 2x2 input neighbourhood as a 4x4 stride-2 transposed convolution.
"""

import math
from typing import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp


def depth_to_space(x: jax.Array, block: int = 2) -> jax.Array:
  """[b, h, w, c * block^2] -> [b, h * block, w * block, c] (pixel shuffle)."""
  b, h, w, c = x.shape
  c_out = c // (block * block)
  x = x.reshape(b, h, w, block, block, c_out)
  return x.transpose(0, 1, 3, 2, 4, 5).reshape(b, h * block, w * block, c_out)


def space_to_depth(x: jax.Array, block: int = 2) -> jax.Array:
  """[b, h, w, c] -> [b, h / block, w / block, c * block^2] (inverse of depth_to_space)."""
  b, h, w, c = x.shape
  x = x.reshape(b, h // block, block, w // block, block, c)
  return x.transpose(0, 1, 3, 2, 4, 5).reshape(b, h // block, w // block, block * block * c)


class UpsampleConv(nn.Module):
  """Learned 2x upsampling: a drop-in, CPU-fast replacement for ConvTranspose(4x4, stride 2)."""

  features: int
  kernel_size: int = 2
  use_bias: bool = True
  kernel_init: Callable = nn.initializers.lecun_normal()

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    """[b, h, w, c] -> [b, 2h, 2w, features]."""
    h = nn.Conv(4 * self.features, (self.kernel_size, self.kernel_size), use_bias=self.use_bias,
                kernel_init=self.kernel_init)(x)
    return depth_to_space(h, 2)


def group_norm(x: jax.Array, scale: jax.Array, bias: jax.Array, num_groups: int,
               epsilon: float = 1e-5) -> jax.Array:
  """Group normalisation of x [b, ..., c] with per-channel scale and bias [c], in float32.

  Statistics are E[x] and E[x^2] - E[x]^2 over each example's spatial positions and the c / g
  channels of its group (flax's "fast variance"), computed as per-channel sums first.
  """
  b, c = x.shape[0], x.shape[-1]
  if c % num_groups:
    raise ValueError(f"{c} channels do not split into {num_groups} groups")
  xf = x.astype(jnp.float32)
  axes = tuple(range(1, x.ndim - 1))
  per_group = c // num_groups
  count = per_group * (xf.size // (b * c))
  mean = jnp.sum(xf, axis=axes).reshape(b, num_groups, per_group).sum(-1) / count  # [b, g]
  mean_sq = jnp.sum(jnp.square(xf), axis=axes).reshape(b, num_groups, per_group).sum(-1) / count
  inv = jax.lax.rsqrt(jnp.maximum(mean_sq - jnp.square(mean), 0.0) + epsilon)  # [b, g]
  a = jnp.repeat(inv, per_group, axis=1) * scale  # [b, c]: the multiplier of x
  shift = bias - jnp.repeat(mean, per_group, axis=1) * a  # [b, c]
  expand = (b,) + (1,) * len(axes) + (c,)
  return (xf * a.reshape(expand) + shift.reshape(expand)).astype(x.dtype)


class GroupNorm(nn.Module):
  """`flax.linen.GroupNorm`'s parameters ("scale", "bias") and results, faster on XLA's CPU."""

  num_groups: int = 32
  epsilon: float = 1e-5

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    """[b, ..., c] -> normalised [b, ..., c]."""
    scale = self.param("scale", nn.initializers.ones, (x.shape[-1],))
    bias = self.param("bias", nn.initializers.zeros, (x.shape[-1],))
    return group_norm(x, scale, bias, self.num_groups, self.epsilon)


def _as_4d(a: jax.Array | None) -> jax.Array | None:
  """Left-pads a mask or bias with unit axes up to [b, heads, t, s] rank (numpy broadcasting)."""
  if a is None:
    return None
  a = jnp.asarray(a)
  if a.ndim > 4:
    raise ValueError(f"a mask or bias has at most 4 axes [b, heads, t, s], got shape {a.shape}")
  return a.reshape((1,) * (4 - a.ndim) + a.shape)


# Above this many bytes of float32 logits [b, heads, t, s], the CPU path attends in query chunks
# of about _CHUNK_BYTES each (see `dot_product_attention`).
_CHUNK_ABOVE_BYTES = 48 << 20
_CHUNK_BYTES = 32 << 20
# jax.nn.dot_product_attention's fill value for masked logits, so both backends agree on fully
# masked rows.
_MASK_FILL = -0.7 * float(jnp.finfo(jnp.float32).max)


def _attend(q: jax.Array, k: jax.Array, v: jax.Array, mask: jax.Array | None,
            bias: jax.Array | None) -> jax.Array:
  """Heads-major attention: q [b, heads, t, d], k, v [b, heads, s, d] -> [b, heads, t, d].

  mask, bias: None or 4-D, broadcasting to [b, heads, t, s].
  """
  scale = 1.0 / math.sqrt(q.shape[-1])
  if q.dtype == jnp.float32:
    # Scaling the [t, d] queries rather than the [t, s] logits: XLA's CPU matmul fusions take the
    # scale as a materialised [b, heads, t, s] constant otherwise (5 MB, 4 ms a ViT step).
    q = q * jnp.float32(scale)
  # float32 logits even for bfloat16 inputs: a bfloat16 logit has ~3 significant digits.
  logits = jnp.einsum("bhtd,bhsd->bhts", q, k, preferred_element_type=jnp.float32)
  if q.dtype != jnp.float32:
    logits = logits * jnp.float32(scale)  # [b, heads, t, s]
  if bias is not None:
    logits = logits + bias.astype(jnp.float32)
  if mask is not None:
    logits = jnp.where(mask, logits, _MASK_FILL)
  # softmax(l) v = (exp(l - m) v) / sum(exp(l - m)): dividing the [t, d] result rather than the
  # [t, s] weights saves a pass over the logits, forward and backward. m, the row maximum, only
  # keeps exp in range: the result does not depend on it, so no gradient flows through it.
  m = jax.lax.stop_gradient(jnp.max(logits, axis=-1, keepdims=True))
  e = jnp.exp(logits - m)  # [b, heads, t, s]
  out = jnp.einsum("bhts,bhsd->bhtd", e.astype(v.dtype), v, preferred_element_type=jnp.float32)
  return (out / jnp.sum(e, axis=-1, keepdims=True)).astype(v.dtype)


def _attend_in_chunks(q: jax.Array, k: jax.Array, v: jax.Array, mask: jax.Array | None,
                      bias: jax.Array | None, chunks: int) -> jax.Array:
  """`_attend` over `chunks` blocks of queries in turn (a lax.map), each rematerialised.

  Queries are padded to a multiple of the chunk (the padding rows are dropped at the end); a
  mask or bias with a query axis is split alongside, one without is shared by every chunk.
  """
  b, heads, t, d = q.shape
  size = -(-t // chunks)  # queries per chunk
  chunks = -(-t // size)
  pad = chunks * size - t

  def split(a: jax.Array | None, fill) -> jax.Array | None:
    """[B, H, t, S] -> [chunks, B, H, size, S]; None when a has no query axis to split."""
    if a is None or a.shape[2] == 1:
      return None
    a = jnp.pad(a, ((0, 0), (0, 0), (0, pad), (0, 0)), constant_values=fill) if pad else a
    return jnp.moveaxis(a.reshape(*a.shape[:2], chunks, size, a.shape[3]), 2, 0)

  # Recomputing a chunk's logits in the backward pass is cheaper on the CPU than storing all
  # [b, heads, t, s] of them and reading them back (a flash-attention-like memory footprint).
  attend = jax.checkpoint(_attend)

  def one_chunk(xs):
    qc, mc, bc = xs  # [b, heads, size, d] and the chunk's mask and bias rows, if any
    return attend(qc, k, v, mask if mc is None else mc, bias if bc is None else bc)

  out = jax.lax.map(one_chunk, (split(q, 0), split(mask, True), split(bias, 0)))
  out = jnp.moveaxis(out, 0, 2).reshape(b, heads, chunks * size, d)  # [b, heads, t + pad, d]
  return out[:, :, :t]


def dot_product_attention(q: jax.Array, k: jax.Array, v: jax.Array,
                          mask: jax.Array | None = None,
                          bias: jax.Array | None = None) -> jax.Array:
  """softmax(q k^T / sqrt(d) + bias) v for q [b, t, heads, d], k, v [b, s, heads, d].

  Returns [b, t, heads, d] in q's dtype.

  mask (bool, True = attend) and bias (additive, e.g. a relative position bias) broadcast to
  [b, heads, t, s] by numpy rules, so [t, s] or [b, 1, 1, s] work. Logits and softmax are float32
  whatever the input dtype; masked logits become a large finite negative (as in jax), so a query
  that may attend to nothing averages all values rather than returning NaN.

  On the CPU as heads-major einsums (see the module docstring), and, when the float32 logits
  would exceed _CHUNK_ABOVE_BYTES, over chunks of queries; elsewhere through
  jax.nn.dot_product_attention, which has fused kernels on accelerators.
  """
  mask, bias = _as_4d(mask), _as_4d(bias)
  if mask is not None and mask.dtype != jnp.bool_:
    raise ValueError(f"the attention mask must be boolean (True = attend), got {mask.dtype}")
  if jax.default_backend() != "cpu":
    return jax.nn.dot_product_attention(q, k, v, bias=bias, mask=mask)
  q, k, v = (a.transpose(0, 2, 1, 3) for a in (q, k, v))  # [b, heads, t or s, d]
  b, heads, t, _ = q.shape
  logit_bytes = 4 * b * heads * t * k.shape[2]
  if logit_bytes > _CHUNK_ABOVE_BYTES:
    out = _attend_in_chunks(q, k, v, mask, bias, -(-logit_bytes // _CHUNK_BYTES))
  else:
    out = _attend(q, k, v, mask, bias)
  return out.transpose(0, 2, 1, 3)
