"""The VQ tokenizer's networks: a conv encoder to a grid of vectors and a conv decoder back.

Encoder: images [b, h, w, c] in [0, 1] -> [b, h / 2^L, w / 2^L, embed_dim] (7x7 for 28x28 digits
with two levels), the vectors the quantiser (`jaxgen.tokens.vq`) snaps to codebook entries.
Decoder: quantised grids -> images [b, h, w, c] (unbounded: the loss compares them to the
images in [-1, 1]). The codebook itself is not here: it is an array the tokenizer family owns
(trained by its loss or by EMA), so that the nets stay free of the quantisation algorithm.

Residual blocks: GroupNorm-SiLU-conv twice, plus a 1x1 projection of the block's *input* where
the width changes (MaskGIT's released tokenizer applies that projection to the residual
branch's output instead, its issue #3).
"""

from typing import Sequence

import flax.linen as nn
import jax

from jaxgen.nets.layers import UpsampleConv
from jaxgen.nets.unet import group_norm


class VQResBlock(nn.Module):
  """x + conv(silu(gn(conv(silu(gn(x)))))), with a 1x1 projection of x when widths differ."""

  features: int

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    """[b, h, w, c] -> [b, h, w, features]."""
    h = nn.Conv(self.features, (3, 3))(nn.silu(group_norm(x.shape[-1])(x)))
    h = nn.Conv(self.features, (3, 3))(nn.silu(group_norm(self.features)(h)))
    if x.shape[-1] != self.features:
      x = nn.Conv(self.features, (1, 1), name="shortcut")(x)  # the input, not h
    return x + h


class VQEncoder(nn.Module):
  """Images [b, h, w, c] in [0, 1] -> vectors [b, h / 2^L, w / 2^L, embed_dim], L = levels."""

  channels: Sequence[int] = (32, 64)
  embed_dim: int = 16

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    h = nn.Conv(self.channels[0], (3, 3))(x * 2.0 - 1.0)
    for ch in self.channels:
      h = VQResBlock(ch)(h)
      h = nn.Conv(ch, (4, 4), strides=(2, 2))(h)  # halve h and w
    h = VQResBlock(self.channels[-1])(h)
    h = nn.silu(group_norm(self.channels[-1])(h))
    return nn.Conv(self.embed_dim, (1, 1), name="to_embedding")(h)


class VQDecoder(nn.Module):
  """Vectors [b, h / 2^L, w / 2^L, embed_dim] -> images [b, h, w, c] (unbounded, [-1, 1] scale)."""

  image_shape: tuple[int, int, int]
  channels: Sequence[int] = (32, 64)

  @nn.compact
  def __call__(self, z: jax.Array) -> jax.Array:
    h = nn.Conv(self.channels[-1], (3, 3))(z)
    h = VQResBlock(self.channels[-1])(h)
    for ch in reversed(self.channels):
      h = UpsampleConv(ch)(h)  # double h and w
      h = VQResBlock(ch)(h)
    h = nn.silu(group_norm(self.channels[0])(h))
    return nn.Conv(self.image_shape[-1], (3, 3), name="to_pixels")(h)


class VQAutoencoder(nn.Module):
  """The encoder and decoder as one parameter tree; call `encode` and `decode` by method."""

  image_shape: tuple[int, int, int]
  channels: Sequence[int] = (32, 64)
  embed_dim: int = 16

  def setup(self):
    self.encoder = VQEncoder(self.channels, self.embed_dim)
    self.decoder = VQDecoder(self.image_shape, self.channels)

  def encode(self, x: jax.Array) -> jax.Array:
    """[b, h, w, c] in [0, 1] -> [b, gh, gw, embed_dim]."""
    return self.encoder(x)

  def decode(self, z: jax.Array) -> jax.Array:
    """[b, gh, gw, embed_dim] -> [b, h, w, c] on the [-1, 1] scale."""
    return self.decoder(z)

  def __call__(self, x: jax.Array) -> jax.Array:
    """Unquantised round trip (for init): [b, h, w, c] -> [b, h, w, c]."""
    return self.decode(self.encode(x))
