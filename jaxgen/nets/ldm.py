"""Latent diffusion's denoiser: a context encoder (label or text) and a U-Net that cross-attends.

`LatentDiffusionNet` maps (latents [b, gh, gw, zc], t [b], condition) to [b, gh, gw, out]. The
condition is a label [b] (embedded as a one-token context; the label num_classes is the null
one) or prompt tokens [b, L] (a small transformer encoder trained with the denoiser, as LDM's
text-to-image model trained its BERT-style encoder; the all-padding prompt is the null one).
Either becomes a context sequence [b, s, context_dim] that the U-Net's spatial-transformer
levels attend to. With `pooled_context`, the context's mean over its tokens is also added to
the U-Net's time embedding (as Imagen and SDXL add a pooled text embedding): a global route for
what the whole prompt says, beside cross-attention's per-position one. `read` maps a context to
logits of what a caption says (digit, property buckets), for an auxiliary loss that teaches the
text encoder to read them.
"""

import itertools
from typing import Sequence

import flax.linen as nn
import jax

import jax.numpy as jnp

from jaxgen.nets.attention import LearnedPositionEmbedding, TransformerBlock
from jaxgen.nets.unet import UNet


class TextEncoder(nn.Module):
  """Tokens [b, L] -> context [b, L, dim]: embeddings, learned positions, `depth` pre-LN blocks
  and a final LayerNorm. Padding tokens are attended to like words (the empty prompt is a
  sequence of them), so no mask is needed.

  With `summary_tokens` n > 0 the context is [b, n, dim] instead: n learned queries read the
  encoded bytes through one transformer block with cross-attention (a Perceiver-style
  resampler). A byte prompt is 80 tokens, mostly padding; every cross-attention of the U-Net,
  at every sampling step, projects its keys and values from the context, so a short one is
  what makes those layers cheap."""

  vocab_size: int
  dim: int = 64
  depth: int = 2
  num_heads: int = 4
  summary_tokens: int = 0

  @nn.compact
  def __call__(self, tokens: jax.Array, train: bool = False) -> jax.Array:
    h = nn.Embed(self.vocab_size, self.dim, name="embed")(tokens)  # [b, L, dim]
    h = LearnedPositionEmbedding(name="pos")(h)
    for i in range(self.depth):
      h = TransformerBlock(self.num_heads, name=f"block_{i}")(h, deterministic=not train)
    h = nn.LayerNorm(name="norm")(h)
    if not self.summary_tokens:
      return h
    queries = self.param("summary_queries", nn.initializers.normal(0.02),
                         (self.summary_tokens, self.dim))
    q = jnp.broadcast_to(queries, (h.shape[0],) + queries.shape)  # [b, n, dim]
    q = TransformerBlock(self.num_heads, name="summary")(q, h, deterministic=not train)
    return nn.LayerNorm(name="summary_norm")(q)  # [b, n, dim]


class LatentDiffusionNet(nn.Module):
  """The conditioned U-Net of latent diffusion.

  Attributes:
    out_channels: output channels (latent channels, times 2 with a learned variance).
    context: "label" or "text".
    num_classes: labels (the null label is num_classes), for context "label".
    vocab_size: token ids (PAD included), for context "text".
    context_dim: width of the context tokens.
    text_depth, text_heads: the text encoder's blocks and heads.
    context_tokens: if > 0, the text context is resampled to this many tokens (`TextEncoder`'s
      summary_tokens).
    pooled_context: also add the context's mean over tokens to the time embedding.
    read_classes: classes of each head of `read` (digit, then one per property); empty: none.
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
  context_tokens: int = 0
  pooled_context: bool = False
  read_classes: Sequence[int] = ()

  def setup(self):
    if self.context == "label":
      self.label_embed = nn.Embed(self.num_classes + 1, self.context_dim)
    else:
      self.text_encoder = TextEncoder(self.vocab_size, self.context_dim, self.text_depth,
                                      self.text_heads, self.context_tokens)
    self.unet = UNet(self.out_channels, self.base_channels, tuple(self.channel_mult),
                     self.num_res_blocks, tuple(self.attention_resolutions), self.dropout,
                     head_dim=self.head_dim)
    if self.pooled_context:
      self.pool_proj = nn.Dense(4 * self.base_channels)  # the U-Net's time embedding width
    if self.read_classes:
      self.read_head = nn.Dense(sum(self.read_classes))

  def encode(self, condition: jax.Array, train: bool = False) -> jax.Array:
    """condition: labels [b] or tokens [b, L] -> context [b, s, context_dim]. A sampler calls
    it once per draw, not once per step: the prompt does not change along the chain."""
    if self.context == "label":
      return self.label_embed(condition)[:, None, :]  # [b, 1, context_dim]
    return self.text_encoder(condition, train)  # [b, L, context_dim]

  def denoise(self, x: jax.Array, t: jax.Array, context: jax.Array,
              train: bool = False) -> jax.Array:
    """x [b, gh, gw, zc], t [b], an encoded context [b, s, context_dim] -> [b, gh, gw, out]."""
    extra = self.pool_proj(context.mean(axis=1)) if self.pooled_context else None  # [b, 4 ch]
    return self.unet(x, t, None, train, context=context, extra_embedding=extra)

  def read(self, context: jax.Array) -> tuple[jax.Array, ...]:
    """An encoded context [b, s, context_dim] -> logits [b, k] for each of read_classes' k:
    what the prompt says, read from the context's mean over its tokens."""
    logits = self.read_head(context.mean(axis=1))  # [b, sum(read_classes)]
    ends = list(itertools.accumulate(self.read_classes))[:-1]
    return tuple(jnp.split(logits, ends, axis=-1))

  def __call__(self, x: jax.Array, t: jax.Array, condition: jax.Array,
               train: bool = False) -> jax.Array:
    """x [b, gh, gw, zc], t [b], condition: labels [b] or tokens [b, L] -> [b, gh, gw, out]."""
    return self.denoise(x, t, self.encode(condition, train), train)
