"""MinD-Vis's denoiser (Chen et al. 2023): latent diffusion's U-Net conditioned twice by a
brain signal read through the masked-autoencoder encoder, unmasked.

The encoder's tokens [b, n, d] become (1) a context sequence for cross-attention: a channel
mapper (a 1x1 convolution across the n token positions) makes m tokens, a linear map takes
them to the U-Net's context width; and (2) a pooled embedding: the tokens' mean through a
linear map, added to the time embedding. Parameter subtrees: "conditioner" (with "encoder",
the stage-A MAE encoder's tree) and "unet", the tree of the label-conditioned latent diffusion
model's U-Net, so both pretrained stages load by name.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgen.nets.signal_mae import SignalEncoder
from jaxgen.nets.unet import UNet


class SignalConditioner(nn.Module):
  """Signals [b, v] -> (context [b, context_tokens, context_dim], pooled [b, embedding_dim])."""

  patch: int
  dim: int
  depth: int
  num_heads: int
  context_tokens: int
  context_dim: int
  embedding_dim: int

  @nn.compact
  def __call__(self, signals: jax.Array) -> tuple[jax.Array, jax.Array]:
    tokens = SignalEncoder(self.patch, self.dim, self.depth, self.num_heads,
                           name="encoder")(signals)  # [b, n, d]
    # Mixing across token positions: [b, d, n] -> [b, d, m] -> [b, m, d].
    mapped = nn.Conv(self.context_tokens, (1,), name="channel_mapper")(
        tokens.transpose(0, 2, 1)).transpose(0, 2, 1)
    context = nn.Dense(self.context_dim, name="dim_mapper")(mapped)  # [b, m, context_dim]
    # Zero-initialised: the fine-tune starts from the pretrained U-Net's own time embedding.
    pooled = nn.Dense(self.embedding_dim, kernel_init=nn.initializers.zeros, name="pool_mapper")(
        tokens.mean(axis=1))  # [b, embedding_dim]
    return context, pooled


class BrainDiffusionNet(nn.Module):
  """(latents [b, gh, gw, zc], t [b], signals [b, v]) -> [b, gh, gw, out_channels].

  Attributes:
    unet: the denoiser, built as the pretrained latent diffusion model's (its parameters are
      the subtree "unet").
    patch, dim, depth, num_heads: the signal encoder's (as the stage-A MAE's).
    context_tokens: tokens of the context the channel mapper makes.
    context_dim: their width, the one the U-Net's cross-attention was pretrained on.
  """

  unet: UNet
  patch: int = 16
  dim: int = 128
  depth: int = 4
  num_heads: int = 4
  context_tokens: int = 8
  context_dim: int = 64

  def setup(self):
    self.conditioner = SignalConditioner(
        self.patch, self.dim, self.depth, self.num_heads, self.context_tokens, self.context_dim,
        4 * self.unet.base_channels)

  def condition(self, signals: jax.Array) -> tuple[jax.Array, jax.Array]:
    """signals [b, v] -> (context [b, m, context_dim], pooled [b, 4 * base_channels])."""
    return self.conditioner(signals)

  def denoise(self, x: jax.Array, t: jax.Array, context: jax.Array, pooled: jax.Array,
              train: bool = False) -> jax.Array:
    """The U-Net under a given condition (e.g. the null one, for guidance)."""
    return self.unet(x, t, None, train, context=context, extra_embedding=pooled)

  def __call__(self, x: jax.Array, t: jax.Array, signals: jax.Array, train: bool = False,
               drop: jax.Array | None = None,
               null_context: jax.Array | None = None) -> jax.Array:
    """The U-Net conditioned on `signals`; where `drop` [b] is true, on `null_context`
    [m, context_dim] with no pooled embedding instead (condition dropout: it trains the null
    condition that classifier-free guidance contrasts with)."""
    context, pooled = self.condition(signals)  # [b, m, context_dim], [b, 4 * base_channels]
    if drop is not None:
      context = jnp.where(drop[:, None, None], null_context[None], context)
      pooled = jnp.where(drop[:, None], 0.0, pooled)
    return self.denoise(x, t, context, pooled, train)
