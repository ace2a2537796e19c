"""A noise-aware classifier for classifier guidance: the U-Net's encoder half plus a pooled head.

Dhariwal & Nichol (2021) train such a classifier on x_t at random t so that grad_x log p(y | x_t, t)
is meaningful along the whole reverse process. Like the U-Net, it knows nothing of diffusion.
"""

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgen.nets.unet import AttentionBlock, ResBlock, group_norm, timestep_embedding


class NoisyClassifier(nn.Module):
  """(x [b, h, w, c], t [b]) -> logits [b, num_classes].

  Attributes mirror `UNet`'s encoder; the head is GroupNorm, SiLU, a spatial mean and a Dense.
  """

  num_classes: int
  base_channels: int = 32
  channel_mult: Sequence[int] = (1, 2, 2)
  num_res_blocks: int = 1
  attention_resolutions: Sequence[int] = ()
  dropout: float = 0.0
  head_dim: int = 32

  @nn.compact
  def __call__(self, x: jax.Array, t: jax.Array, train: bool = False) -> jax.Array:
    emb_dim = 4 * self.base_channels
    emb = timestep_embedding(t, self.base_channels)
    emb = nn.Dense(emb_dim)(nn.silu(nn.Dense(emb_dim)(emb)))  # [b, emb_dim]
    h = nn.Conv(self.base_channels, (3, 3), name="conv_in")(x)
    levels = len(self.channel_mult)
    for level, mult in enumerate(self.channel_mult):
      for _ in range(self.num_res_blocks):
        h = ResBlock(self.base_channels * mult, self.dropout)(h, emb, train)
        if h.shape[1] in self.attention_resolutions:
          h = AttentionBlock(self.head_dim)(h)
      if level != levels - 1:
        h = nn.Conv(h.shape[-1], (3, 3), strides=(2, 2), name=f"down_{level}")(h)
    h = ResBlock(h.shape[-1], self.dropout)(h, emb, train)
    h = nn.silu(group_norm(h.shape[-1])(h))
    h = jnp.mean(h, axis=(1, 2))  # [b, c]
    return nn.Dense(self.num_classes, name="head")(h)
