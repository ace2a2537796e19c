"""A DDPM-style U-Net (Ho et al. 2020, with the improved-DDPM refinements), in Flax linen.

It maps (x [b, h, w, c], t [b], optional labels [b]) to [b, h, w, out_channels]. It knows nothing
of diffusion: t is just a scalar per example, embedded sinusoidally; what the output means (eps,
x_0, v, a variance channel) is the caller's business. Called with a context sequence
[b, s, dc] (latent diffusion's text or label tokens), its attention levels become
`SpatialTransformer` blocks that also cross-attend to the context.
"""

import math
from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgen.nets.attention import SelfAttention, TransformerBlock
from jaxgen.nets.layers import GroupNorm

# Output convolutions start at zero so every residual branch starts as the identity.
zeros_init = nn.initializers.zeros
Dtype = Any  # a jnp dtype


def timestep_embedding(t: jax.Array, dim: int, max_period: float = 10000.0) -> jax.Array:
  """Transformer-style sinusoidal embedding of scalar t [b] -> [b, dim] (cos half, then sin half)."""
  half = dim // 2
  freqs = jnp.exp(-math.log(max_period) * jnp.arange(half, dtype=jnp.float32) / half)  # [half]
  args = t.astype(jnp.float32)[:, None] * freqs[None]  # [b, half]
  return jnp.concatenate([jnp.cos(args), jnp.sin(args)], axis=-1)


def group_norm(channels: int, name: str | None = None) -> GroupNorm:
  """GroupNorm with 32 groups, or fewer for narrow layers (each group needs >= 1 channel)."""
  return GroupNorm(num_groups=math.gcd(32, channels), epsilon=1e-5, name=name)


def adaptive_group_norm(normed: jax.Array, time_scale: jax.Array, time_shift: jax.Array,
                        semantic_scale: jax.Array) -> jax.Array:
  """Diffusion Autoencoders' AdaGN (Preechakul et al. 2022 eq. 7) on group-normed features:
  z_s * (t_s * GN(h) + t_b). normed [b, h, w, c]; the scales and shift [b, c]. With z_s = 1
  it is the scale-shift norm of improved DDPM, which the time embedding alone conditions."""
  expand = lambda a: a[:, None, None, :]
  return expand(semantic_scale) * (expand(time_scale) * normed + expand(time_shift))


class ResBlock(nn.Module):
  """GN-SiLU-conv, + projected time embedding, GN-SiLU-dropout-conv, plus a (1x1) skip.

  With a semantic code z [b, d] (Diffusion Autoencoders) the time embedding enters through
  `adaptive_group_norm` at the second norm instead: t_s = 1 + Dense(emb), t_b = Dense(emb),
  z_s = 1 + Dense(z), all projections starting at zero (the block starts unconditioned).
  """

  out_channels: int
  dropout: float = 0.0
  dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array, emb: jax.Array, train: bool,
               semantic: jax.Array | None = None) -> jax.Array:
    h = nn.Conv(self.out_channels, (3, 3), dtype=self.dtype)(
        nn.silu(group_norm(x.shape[-1])(x)))  # [b, h, w, o]
    if semantic is None:
      h = h + nn.Dense(self.out_channels, dtype=self.dtype)(nn.silu(emb))[:, None, None, :]
      h = nn.silu(group_norm(self.out_channels)(h))
    else:
      scale, shift = jnp.split(nn.Dense(2 * self.out_channels, kernel_init=zeros_init,
                                        name="time_scale_shift", dtype=self.dtype)(nn.silu(emb)),
                               2, axis=-1)
      z_scale = nn.Dense(self.out_channels, kernel_init=zeros_init,
                         name="semantic_scale", dtype=self.dtype)(semantic)
      h = adaptive_group_norm(group_norm(self.out_channels)(h), 1.0 + scale, shift, 1.0 + z_scale)
      h = nn.silu(h)
    h = nn.Dropout(self.dropout, deterministic=not train)(h)
    h = nn.Conv(self.out_channels, (3, 3), kernel_init=zeros_init, dtype=self.dtype)(h)
    if x.shape[-1] != self.out_channels:
      x = nn.Conv(self.out_channels, (1, 1), name="skip", dtype=self.dtype)(x)
    return x + h


class AttentionBlock(nn.Module):
  """Multi-head self-attention over all h*w positions, as a residual branch.

  The library's `SelfAttention` shares this block's scope, so its parameters ("qkv", "proj") sit
  directly under the block as before it was shared: earlier checkpoints still load.
  """

  head_dim: int = 32
  dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    b, hh, ww, c = x.shape
    heads = max(c // self.head_dim, 1)
    h = group_norm(c)(x).reshape(b, hh * ww, c)  # [b, hw, c]
    # Starts as the identity branch.
    attn = SelfAttention(heads, out_kernel_init=zeros_init, dtype=self.dtype)
    nn.share_scope(self, attn)
    return x + attn(h).reshape(b, hh, ww, c)


class SpatialTransformer(nn.Module):
  """Latent diffusion's attention level (Rombach et al. 2022): GN, 1x1 projection in, one
  transformer block (self-attention, cross-attention to the context, gated-GELU feed-forward),
  1x1 projection out, added to the input. The output projection starts at zero, so a fresh
  block is the identity and the U-Net starts as its attention-free self.
  """

  head_dim: int = 32
  dropout: float = 0.0
  dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array, context: jax.Array, train: bool) -> jax.Array:
    """x [b, h, w, c], context [b, s, dc] -> [b, h, w, c]."""
    b, hh, ww, c = x.shape
    h = nn.Conv(c, (1, 1), name="proj_in", dtype=self.dtype)(group_norm(c)(x))
    h = h.reshape(b, hh * ww, c)  # [b, hw, c]
    h = TransformerBlock(max(c // self.head_dim, 1), min(self.head_dim, c), dropout=self.dropout,
                         gated_mlp=True, dtype=self.dtype, name="block")(
                             h, context, deterministic=not train)
    h = nn.Conv(c, (1, 1), kernel_init=zeros_init, name="proj_out", dtype=self.dtype)(
        h.reshape(b, hh, ww, c))
    return x + h


class UNet(nn.Module):
  """Residual U-Net with attention at chosen resolutions.

  Attributes:
    out_channels: output channels (e.g. c for eps, 2c for eps plus a variance channel).
    base_channels: channels of the first level; level i has base_channels * channel_mult[i].
    channel_mult: per-level multipliers; the input is halved len(channel_mult) - 1 times.
    num_res_blocks: residual blocks per level on the way down (one more on the way up).
    attention_resolutions: spatial sizes (height) at which blocks get self-attention.
    dropout: dropout rate inside residual blocks.
    num_classes: if set, labels in [0, num_classes] are embedded; num_classes is the null class.
    head_dim: channels per attention head.
    dtype: computation dtype (bfloat16 for mixed precision): parameters stay float32, group
      norm statistics and attention softmax are float32, and the output is float32.

  With a `context` [b, s, dc], every attention block (at attention_resolutions and in the
  middle) is a `SpatialTransformer` attending to it. With a `semantic` code [b, d] (Diffusion
  Autoencoders' z_sem), every residual block conditions through adaptive group norm. An
  `extra_embedding` [b, 4 * base_channels] is added to the time embedding (MinD-Vis). Without
  either the parameters are those of a plain U-Net, so earlier checkpoints load unchanged.
  """

  out_channels: int
  base_channels: int = 64
  channel_mult: Sequence[int] = (1, 2, 2)
  num_res_blocks: int = 2
  attention_resolutions: Sequence[int] = (16,)
  dropout: float = 0.0
  num_classes: int | None = None
  head_dim: int = 32
  dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array, t: jax.Array, labels: jax.Array | None = None,
               train: bool = False, context: jax.Array | None = None,
               semantic: jax.Array | None = None,
               extra_embedding: jax.Array | None = None) -> jax.Array:
    levels = len(self.channel_mult)
    if x.shape[1] % 2 ** (levels - 1) or x.shape[2] % 2 ** (levels - 1):
      raise ValueError(f"image size {x.shape[1:3]} must be divisible by {2 ** (levels - 1)}")
    emb_dim = 4 * self.base_channels
    emb = timestep_embedding(t, self.base_channels)
    emb = nn.Dense(emb_dim, dtype=self.dtype)(
        nn.silu(nn.Dense(emb_dim, dtype=self.dtype)(emb)))  # [b, emb_dim]
    if self.num_classes is not None:
      if labels is None:
        labels = jnp.full(t.shape, self.num_classes, jnp.int32)  # the null class
      emb = emb + nn.Embed(self.num_classes + 1, emb_dim, name="class_embed",
                           dtype=self.dtype)(labels)
    if extra_embedding is not None:  # [b, emb_dim], e.g. MinD-Vis's pooled signal embedding
      emb = emb + extra_embedding.astype(emb.dtype)


    def attend(h):
      if context is None:
        return AttentionBlock(self.head_dim, self.dtype)(h)
      return SpatialTransformer(self.head_dim, self.dropout, self.dtype)(h, context, train)

    h = nn.Conv(self.base_channels, (3, 3), name="conv_in", dtype=self.dtype)(x)  # [b, h, w, ch]
    skips = [h]
    for level, mult in enumerate(self.channel_mult):
      for _ in range(self.num_res_blocks):
        h = ResBlock(self.base_channels * mult, self.dropout, self.dtype)(h, emb, train, semantic)
        if h.shape[1] in self.attention_resolutions:
          h = attend(h)
        skips.append(h)
      if level != levels - 1:
        h = nn.Conv(h.shape[-1], (3, 3), strides=(2, 2), name=f"down_{level}",
                    dtype=self.dtype)(h)  # halve h, w
        skips.append(h)

    h = ResBlock(h.shape[-1], self.dropout, self.dtype)(h, emb, train, semantic)
    h = attend(h)
    h = ResBlock(h.shape[-1], self.dropout, self.dtype)(h, emb, train, semantic)

    for level, mult in reversed(list(enumerate(self.channel_mult))):
      for _ in range(self.num_res_blocks + 1):
        h = jnp.concatenate([h, skips.pop()], axis=-1)
        h = ResBlock(self.base_channels * mult, self.dropout, self.dtype)(h, emb, train, semantic)
        if h.shape[1] in self.attention_resolutions:
          h = attend(h)
      if level != 0:
        b, hh, ww, c = h.shape
        # Nearest-neighbour doubling as a broadcast: cheaper in XLA than a gather-based resize.
        h = jnp.broadcast_to(h[:, :, None, :, None, :], (b, hh, 2, ww, 2, c))
        h = h.reshape(b, 2 * hh, 2 * ww, c)  # [b, 2h, 2w, c]
        h = nn.Conv(c, (3, 3), name=f"up_{level}", dtype=self.dtype)(h)

    h = nn.silu(group_norm(h.shape[-1])(h))
    out = nn.Conv(self.out_channels, (3, 3), kernel_init=zeros_init, name="conv_out",
                  dtype=self.dtype)(h)
    return out.astype(jnp.float32)  # losses and samplers work in float32
