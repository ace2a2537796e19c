"""A transformer over a grid of VQ codes with a class token (MaskGIT's bidirectional network).

Input: code indices [b, n] in [0, num_codes] where num_codes itself is the mask id (a distinct
entry, never a code), and labels [b] in [0, num_classes] where num_classes is the "no label"
entry used for classifier-free guidance. The sequence is [class token, n code tokens] with
learned positions, through the shared pre-LN blocks (`jaxgen.nets.attention`); the output is
logits over the num_codes real codes [b, n, num_codes] (never the mask id).
"""

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgen.nets.attention import LearnedPositionEmbedding, TransformerBlock


class TokenTransformer(nn.Module):
  """Code indices [b, n] and labels [b] -> logits over the codes [b, n, num_codes].

  Attributes:
    num_codes: codebook size K; index K is the mask token.
    num_classes: labels C; index C is the null label (unconditional).
    dim, depth, num_heads, mlp_ratio, dropout: the blocks' shape.
  """

  num_codes: int
  num_classes: int
  dim: int = 128
  depth: int = 4
  num_heads: int = 4
  mlp_ratio: float = 4.0
  dropout: float = 0.0

  @nn.compact
  def __call__(self, tokens: jax.Array, labels: jax.Array, train: bool = False) -> jax.Array:
    b, n = tokens.shape
    x = nn.Embed(self.num_codes + 1, self.dim, name="code_embedding")(tokens)  # [b, n, dim]
    cls = nn.Embed(self.num_classes + 1, self.dim, name="label_embedding")(labels)  # [b, dim]
    x = jnp.concatenate([cls[:, None], x], axis=1)  # [b, n + 1, dim]
    x = LearnedPositionEmbedding(name="position")(x)
    x = nn.Dropout(self.dropout)(x, deterministic=not train)
    for i in range(self.depth):
      x = TransformerBlock(self.num_heads, mlp_ratio=self.mlp_ratio, dropout=self.dropout,
                           name=f"block{i}")(x, deterministic=not train)
    x = nn.LayerNorm(name="norm")(x[:, 1:])  # [b, n, dim]: the code positions
    return nn.Dense(self.num_codes, name="logits")(x)  # [b, n, num_codes]
