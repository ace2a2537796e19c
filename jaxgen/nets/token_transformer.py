"""Transformers over the VQ codes of an image: MaskGIT's bidirectional network with a class
token, and the causal network of the autoregressive baseline (with a key/value cache).

Input: code indices [b, n] in [0, num_codes] where num_codes itself is the mask id (a distinct
entry, never a code), and labels [b] in [0, num_classes] where num_classes is the "no label"
entry used for classifier-free guidance. The sequence is [class token, n code tokens] with
learned positions, through the shared pre-LN blocks (`jaxgen.nets.attention`); the output is
logits over the num_codes real codes [b, n, num_codes] (never the mask id).
"""

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgen.nets.attention import (LearnedPositionEmbedding, TransformerBlock, causal_mask,
                                    sincos_embedding)


class TokenTransformer(nn.Module):
  """Code indices [b, n] and labels [b] -> logits over the codes [b, n, num_codes].

  Attributes:
    num_codes: codebook size K; index K is the mask token.
    num_classes: labels C; index C is the null label (unconditional).
    dim, depth, num_heads, mlp_ratio, dropout: the blocks' shape.
    condition_every_token: also add the class token's embedding (label and noise level) to
      every code token.
    modulate_blocks: modulate every block by that embedding (adaLN-Zero, see
      `TransformerBlock`), as Paella's network modulates each of its blocks' layer norms by
      the [condition, level] embedding.
  """

  num_codes: int
  num_classes: int
  dim: int = 128
  depth: int = 4
  num_heads: int = 4
  mlp_ratio: float = 4.0
  dropout: float = 0.0
  condition_every_token: bool = False
  modulate_blocks: bool = False

  @nn.compact
  def __call__(self, tokens: jax.Array, labels: jax.Array, train: bool = False,
               noise_level: jax.Array | None = None) -> jax.Array:
    """noise_level [b] in [0, 1] (Paella's token-diffusion level), if given, joins the class
    token as a sinusoidal embedding through an MLP."""
    b, n = tokens.shape
    x = nn.Embed(self.num_codes + 1, self.dim, name="code_embedding")(tokens)  # [b, n, dim]
    cls = nn.Embed(self.num_classes + 1, self.dim, name="label_embedding")(labels)  # [b, dim]
    if noise_level is not None:
      t = sincos_embedding(1000.0 * noise_level, self.dim)  # [b, dim]
      t = nn.gelu(nn.Dense(self.dim, name="level_in")(t))
      cls = cls + nn.Dense(self.dim, name="level_out")(t)
    if self.condition_every_token:
      # With uniform-noise codes as input, every key is noise at high levels: the label and
      # level reach each position directly instead of through attention to one token.
      x = x + cls[:, None]
    x = jnp.concatenate([cls[:, None], x], axis=1)  # [b, n + 1, dim]
    x = LearnedPositionEmbedding(name="position")(x)
    x = nn.Dropout(self.dropout)(x, deterministic=not train)
    condition = cls if self.modulate_blocks else None  # [b, dim]
    for i in range(self.depth):
      x = TransformerBlock(self.num_heads, mlp_ratio=self.mlp_ratio, dropout=self.dropout,
                           name=f"block{i}")(x, modulation=condition, deterministic=not train)
    x = nn.LayerNorm(name="norm")(x[:, 1:])  # [b, n, dim]: the code positions
    return nn.Dense(self.num_codes, name="logits")(x)  # [b, n, num_codes]


class CausalTokenTransformer(nn.Module):
  """The autoregressive baseline: codes in raster order, each predicted from the label and the
  codes before it. Position 0's input is the label's embedding, position i's the code i - 1.

  `__call__(prev_codes [b, m], labels [b])` -> logits [b, m, num_codes] where prev_codes[:, i]
  is the code before position i (ignored at position 0). With `decode`, calls continue from
  the cache's position (the "cache" collection, sized by an init call at the full length).

  Attributes:
    num_codes, num_classes: as `TokenTransformer` (labels include the null label num_classes).
    length: the sequence length n (the codes of one image).
    dim, depth, num_heads, mlp_ratio, dropout: the blocks' shape.
    decode: cached one-step decoding.
  """

  num_codes: int
  num_classes: int
  length: int
  dim: int = 128
  depth: int = 4
  num_heads: int = 4
  mlp_ratio: float = 4.0
  dropout: float = 0.0
  decode: bool = False

  @nn.compact
  def __call__(self, prev_codes: jax.Array, labels: jax.Array, train: bool = False) -> jax.Array:
    b, m = prev_codes.shape
    codes = nn.Embed(self.num_codes, self.dim, name="code_embedding")(prev_codes)  # [b, m, dim]
    label = nn.Embed(self.num_classes + 1, self.dim, name="label_embedding")(labels)  # [b, dim]
    table = self.param("position", nn.initializers.normal(stddev=0.02), (self.length, self.dim))
    start = jnp.zeros((), jnp.int32)
    if self.decode:
      initialised = self.has_variable("cache", "position")
      position = self.variable("cache", "position", lambda: jnp.zeros((), jnp.int32))
      if initialised:
        start = position.value
        position.value = start + m
    positions = start + jnp.arange(m)  # [m]
    x = jnp.where((positions == 0)[None, :, None], label[:, None], codes)  # [b, m, dim]
    x = x + table[positions][None]
    x = nn.Dropout(self.dropout)(x, deterministic=not train)
    mask = None if self.decode else causal_mask(m)[None, None]
    for i in range(self.depth):
      x = TransformerBlock(self.num_heads, mlp_ratio=self.mlp_ratio, dropout=self.dropout,
                           decode=self.decode, name=f"block{i}")(
                               x, mask=mask, deterministic=not train)
    x = nn.LayerNorm(name="norm")(x)
    return nn.Dense(self.num_codes, name="logits")(x)  # [b, m, num_codes]
