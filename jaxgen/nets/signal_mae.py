"""A masked autoencoder over 1-D signals (MinD-Vis's sparse-coded masked brain modelling).

The signal [b, v] is cut into n = v / patch patches, each embedded by a Conv1d of kernel and
stride `patch` into `dim` channels, much wider than the patch (MinD-Vis's "large embedding per
small patch", a sparse code), plus fixed sin-cos positions. The encoder runs the shared
transformer blocks of `jaxgen.nets.attention` over the visible patches only; the decoder, narrower,
puts a learned mask token at every hidden position and predicts each patch's values. Which
patches are visible is the caller's choice (`keep` indices, drawn by
`jaxgen.brain.masking.random_keep`): the module is pure and deterministic.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgen.nets.attention import TransformerBlock, sincos_embedding


def _take_tokens(tokens: jax.Array, index: jax.Array) -> jax.Array:
  """tokens [b, n, d], index [b, k] -> [b, k, d]."""
  return jnp.take_along_axis(tokens, index[..., None], axis=1)


class SignalEncoder(nn.Module):
  """Signals [b, v] -> tokens [b, k, dim] of the `keep` patches (all n without `keep`).

  Attributes:
    patch: voxels per patch; must divide v.
    dim: token width.
    depth: transformer blocks.
    num_heads: attention heads.
    mlp_ratio: MLP width as a multiple of dim.
  """

  patch: int = 16
  dim: int = 128
  depth: int = 4
  num_heads: int = 4
  mlp_ratio: float = 2.0

  @nn.compact
  def __call__(self, signals: jax.Array, keep: jax.Array | None = None) -> jax.Array:
    """signals [b, v], keep int [b, k] or None -> [b, k (or n), dim] after a final LayerNorm."""
    b, v = signals.shape
    if v % self.patch:
      raise ValueError(f"signal length {v} is not a multiple of the patch {self.patch}; pad it "
                       "(jaxgen.data.brain.pad_to_patch)")
    n = v // self.patch
    tokens = nn.Conv(self.dim, (self.patch,), strides=(self.patch,), padding="VALID",
                     name="patch_embed")(signals[..., None])  # [b, n, dim]
    tokens = tokens + sincos_embedding(jnp.arange(n), self.dim)[None]
    if keep is not None:
      tokens = _take_tokens(tokens, keep)  # [b, k, dim]
    for i in range(self.depth):
      tokens = TransformerBlock(self.num_heads, mlp_ratio=self.mlp_ratio, name=f"block{i}")(tokens)
    return nn.LayerNorm(name="norm")(tokens)


class SignalDecoder(nn.Module):
  """Visible tokens [b, k, d] and their positions `keep` [b, k] -> every patch [b, n, patch]."""

  num_patches: int
  patch: int = 16
  dim: int = 64
  depth: int = 2
  num_heads: int = 4
  mlp_ratio: float = 2.0

  @nn.compact
  def __call__(self, tokens: jax.Array, keep: jax.Array) -> jax.Array:
    b, k, _ = tokens.shape
    n = self.num_patches
    tokens = nn.Dense(self.dim, name="embed")(tokens)  # [b, k, dim]
    mask_token = self.param("mask_token", nn.initializers.normal(0.02), (1, 1, self.dim))
    full = jnp.broadcast_to(mask_token, (b, n, self.dim))
    full = full.at[jnp.arange(b)[:, None], keep].set(tokens)  # visible tokens back in place
    full = full + sincos_embedding(jnp.arange(n), self.dim)[None]
    for i in range(self.depth):
      full = TransformerBlock(self.num_heads, mlp_ratio=self.mlp_ratio, name=f"block{i}")(full)
    full = nn.LayerNorm(name="norm")(full)
    return nn.Dense(self.patch, name="predict")(full)  # [b, n, patch]


class SignalMAE(nn.Module):
  """The masked autoencoder: signals [b, v] and visible patches keep [b, k] -> predicted
  patches [b, n, patch]. Its encoder's parameters are the subtree "encoder", which MinD-Vis's
  second stage loads."""

  num_patches: int
  patch: int = 16
  dim: int = 128
  depth: int = 4
  num_heads: int = 4
  decoder_dim: int = 64
  decoder_depth: int = 2
  decoder_heads: int = 4

  @nn.compact
  def __call__(self, signals: jax.Array, keep: jax.Array) -> jax.Array:
    tokens = SignalEncoder(self.patch, self.dim, self.depth, self.num_heads,
                           name="encoder")(signals, keep)  # [b, k, dim]
    return SignalDecoder(self.num_patches, self.patch, self.decoder_dim, self.decoder_depth,
                         self.decoder_heads, name="decoder")(tokens, keep)
