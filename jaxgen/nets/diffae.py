"""Diffusion Autoencoders' networks (Preechakul et al. 2022): a semantic encoder and a U-Net
conditioned on its code, and the MLP with skip connections of the latent DDIM over that code.

`DiffAENet`: images [b, h, w, c] in [0, 1] -> z_sem [b, d] (`encode`), and
(x_t [b, h, w, c], t [b], z_sem [b, d]) -> eps [b, h, w, c] (`denoise`), whose residual blocks
apply adaptive group norm (see `jaxgen.nets.unet.adaptive_group_norm`).
`LatentMLP`: (z [b, d], t [b]) -> [b, d], the latent DDIM's denoiser.
"""

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgen.nets.autoencoder import ConvEncoder
from jaxgen.nets.unet import UNet, timestep_embedding


class DiffAENet(nn.Module):
  """The semantic encoder and the z_sem-conditioned U-Net as one parameter tree.

  Attributes:
    out_channels: the U-Net's output channels.
    semantic_dim: size of z_sem.
    encoder_channels, encoder_hidden: the semantic encoder's conv widths and hidden layer.
    base_channels, channel_mult, num_res_blocks, attention_resolutions, dropout, head_dim:
      the U-Net's (see `UNet`).
  """

  out_channels: int
  semantic_dim: int = 64
  encoder_channels: Sequence[int] = (32, 64)
  encoder_hidden: int = 256
  base_channels: int = 32
  channel_mult: Sequence[int] = (1, 2, 2)
  num_res_blocks: int = 1
  attention_resolutions: Sequence[int] = (7,)
  dropout: float = 0.0
  head_dim: int = 32

  def setup(self):
    self.encoder = ConvEncoder(self.semantic_dim, tuple(self.encoder_channels),
                               self.encoder_hidden, num_outputs=1)
    self.unet = UNet(self.out_channels, self.base_channels, tuple(self.channel_mult),
                     self.num_res_blocks, tuple(self.attention_resolutions), self.dropout,
                     head_dim=self.head_dim)

  def encode(self, images: jax.Array) -> jax.Array:
    """images [b, h, w, c] in [0, 1] -> z_sem [b, semantic_dim]."""
    return self.encoder(images)[0]

  def denoise(self, x: jax.Array, t: jax.Array, z_sem: jax.Array,
              train: bool = False) -> jax.Array:
    """x_t [b, h, w, c] ([-1, 1] scale), t [b], z_sem [b, d] -> [b, h, w, out_channels]."""
    return self.unet(x, t, None, train, semantic=z_sem)

  def __call__(self, x: jax.Array, t: jax.Array, images: jax.Array,
               train: bool = False) -> jax.Array:
    """The training pass: denoise x_t conditioned on the code of `images` (for init)."""
    return self.denoise(x, t, self.encode(images), train)


class LatentMLP(nn.Module):
  """DiffAE's latent denoiser (its MLPSkipNet): `depth` layers, each Dense -> LayerNorm ->
  time-conditioned scale and shift -> SiLU, with the input z concatenated to every hidden
  layer's input (the skip connections), then a zero-initialised output layer.

  Attributes:
    hidden: width of the hidden layers.
    depth: hidden layers.
  """

  hidden: int = 512
  depth: int = 6

  @nn.compact
  def __call__(self, z: jax.Array, t: jax.Array, train: bool = False) -> jax.Array:
    """z [b, d], t [b] -> [b, d]."""
    emb = timestep_embedding(t, 64)
    emb = nn.Dense(self.hidden)(nn.silu(nn.Dense(self.hidden)(emb)))  # [b, hidden]
    h = z
    for i in range(self.depth):
      h = nn.Dense(self.hidden, name=f"layer_{i}")(h if i == 0 else jnp.concatenate([h, z], -1))
      h = nn.LayerNorm(name=f"norm_{i}")(h)
      scale, shift = jnp.split(nn.Dense(2 * self.hidden, name=f"time_{i}")(nn.silu(emb)), 2, -1)
      h = nn.silu(h * (1.0 + scale) + shift)
    return nn.Dense(z.shape[-1], kernel_init=nn.initializers.zeros, name="out")(h)
