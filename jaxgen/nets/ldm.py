"""Latent diffusion's denoiser: a context encoder (label or text) and a U-Net that cross-attends.

`LatentDiffusionNet` maps (latents [b, gh, gw, zc], t [b], condition) to [b, gh, gw, out]. The
condition is a label [b] (embedded as a one-token context; the label num_classes is the null
one) or prompt tokens [b, L] (a small transformer encoder trained with the denoiser, as LDM's
text-to-image model trained its BERT-style encoder; the all-padding prompt is the null one).
Either becomes a context sequence [b, s, context_dim] that the U-Net's spatial-transformer
levels attend to.
"""

from typing import Sequence

import flax.linen as nn
import jax

from jaxgen.nets.attention import LearnedPositionEmbedding, TransformerBlock
from jaxgen.nets.unet import UNet


class TextEncoder(nn.Module):
  """Tokens [b, L] -> context [b, L, dim]: embeddings, learned positions, `depth` pre-LN blocks
  and a final LayerNorm. Padding tokens are attended to like words (the empty prompt is a
  sequence of them), so no mask is needed."""

  vocab_size: int
  dim: int = 64
  depth: int = 2
  num_heads: int = 4

  @nn.compact
  def __call__(self, tokens: jax.Array, train: bool = False) -> jax.Array:
    h = nn.Embed(self.vocab_size, self.dim, name="embed")(tokens)  # [b, L, dim]
    h = LearnedPositionEmbedding(name="pos")(h)
    for i in range(self.depth):
      h = TransformerBlock(self.num_heads, name=f"block_{i}")(h, deterministic=not train)
    return nn.LayerNorm(name="norm")(h)


class LatentDiffusionNet(nn.Module):
  """The conditioned U-Net of latent diffusion.

  Attributes:
    out_channels: output channels (latent channels, times 2 with a learned variance).
    context: "label" or "text".
    num_classes: labels (the null label is num_classes), for context "label".
    vocab_size: token ids (PAD included), for context "text".
    context_dim: width of the context tokens.
    text_depth, text_heads: the text encoder's blocks and heads.
    base_channels, channel_mult, num_res_blocks, attention_resolutions, dropout, head_dim:
      the U-Net's (see `UNet`).
  """

  out_channels: int
  context: str = "text"
  num_classes: int = 10
  vocab_size: int = 0
  context_dim: int = 64
  text_depth: int = 2
  text_heads: int = 4
  base_channels: int = 64
  channel_mult: Sequence[int] = (1, 2)
  num_res_blocks: int = 1
  attention_resolutions: Sequence[int] = (8, 4)
  dropout: float = 0.0
  head_dim: int = 32

  def setup(self):
    if self.context == "label":
      self.label_embed = nn.Embed(self.num_classes + 1, self.context_dim)
    else:
      self.text_encoder = TextEncoder(self.vocab_size, self.context_dim, self.text_depth,
                                      self.text_heads)
    self.unet = UNet(self.out_channels, self.base_channels, tuple(self.channel_mult),
                     self.num_res_blocks, tuple(self.attention_resolutions), self.dropout,
                     head_dim=self.head_dim)

  def encode(self, condition: jax.Array, train: bool = False) -> jax.Array:
    """condition: labels [b] or tokens [b, L] -> context [b, s, context_dim]. A sampler calls
    it once per draw, not once per step: the prompt does not change along the chain."""
    if self.context == "label":
      return self.label_embed(condition)[:, None, :]  # [b, 1, context_dim]
    return self.text_encoder(condition, train)  # [b, L, context_dim]

  def denoise(self, x: jax.Array, t: jax.Array, context: jax.Array,
              train: bool = False) -> jax.Array:
    """x [b, gh, gw, zc], t [b], an encoded context [b, s, context_dim] -> [b, gh, gw, out]."""
    return self.unet(x, t, None, train, context=context)

  def __call__(self, x: jax.Array, t: jax.Array, condition: jax.Array,
               train: bool = False) -> jax.Array:
    """x [b, gh, gw, zc], t [b], condition: labels [b] or tokens [b, L] -> [b, gh, gw, out]."""
    return self.denoise(x, t, self.encode(condition, train), train)
