"""Vision Transformer classifier (Dosovitskiy et al. 2021), the shape of google-research's
vision_transformer: a strided-conv patch embedding, a class token (or mean pooling), learned
position embeddings, pre-LN blocks from `jaxgen.nets.attention`, a final LayerNorm and a
zero-initialised head (so every class starts at the same logit)."""

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgen.nets.attention import LearnedPositionEmbedding, TransformerBlock

POOLS = ("cls", "mean")


class ViT(nn.Module):
  """Images [b, h, w, c] in [0, 1] -> logits [b, num_classes].

  Attributes:
    num_classes: output classes.
    patch: side of the square patches; must divide h and w (4 or 7 for 28x28 digits).
    dim: token width.
    depth: transformer blocks.
    num_heads: attention heads per block.
    mlp_ratio: MLP width as a multiple of dim.
    dropout: dropout after the embedding, in the blocks and before the head.
    pool: "cls" reads the class token; "mean" averages the patch tokens.
    drop_path: stochastic depth of the last block, rising linearly from 0 at the first (DeiT).
    distill: a distillation token beside the class token, read by its own head (DeiT's hard
      distillation: it learns the teacher's labels); the logits are the two heads' mean, or
      with `heads=True` both, (class head, distillation head).
  """

  num_classes: int
  patch: int = 4
  dim: int = 64
  depth: int = 4
  num_heads: int = 4
  mlp_ratio: float = 2.0
  dropout: float = 0.0
  pool: str = "cls"
  drop_path: float = 0.0
  distill: bool = False

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False, return_features: bool = False,
               heads: bool = False) -> jax.Array | tuple[jax.Array, jax.Array]:
    """x [b, h, w, c] in [0, 1] -> logits [b, num_classes] (and the pooled features [b, dim]);
    with `heads` (a distilled ViT) the class and distillation heads' logits."""
    if self.pool not in POOLS:
      raise ValueError(f"unknown ViT pool {self.pool!r}; use one of {POOLS}")
    if self.distill and self.pool != "cls":
      raise ValueError("a distillation token needs the class-token pool")
    b, h, w, _ = x.shape
    if h % self.patch or w % self.patch:
      raise ValueError(f"patch {self.patch} does not divide the {h}x{w} images")
    tokens = nn.Conv(self.dim, (self.patch, self.patch), strides=(self.patch, self.patch),
                     padding="VALID", name="embedding")(x * 2.0 - 1.0)  # [b, h/p, w/p, dim]
    tokens = tokens.reshape(b, -1, self.dim)  # [b, n, dim], row-major patches
    if self.pool == "cls":
      cls = self.param("cls", nn.initializers.zeros, (1, 1, self.dim))
      tokens = jnp.concatenate([jnp.broadcast_to(cls, (b, 1, self.dim)), tokens], axis=1)
    if self.distill:  # [b, 2 + n, dim]: class token, distillation token, patches
      dist = self.param("dist", nn.initializers.zeros, (1, 1, self.dim))
      tokens = jnp.concatenate([tokens[:, :1], jnp.broadcast_to(dist, (b, 1, self.dim)),
                                tokens[:, 1:]], axis=1)
    tokens = LearnedPositionEmbedding(name="position")(tokens)  # [b, n (+1 or 2), dim]
    tokens = nn.Dropout(self.dropout)(tokens, deterministic=not train)
    for i in range(self.depth):
      rate = self.drop_path * i / max(self.depth - 1, 1)
      tokens = TransformerBlock(self.num_heads, mlp_ratio=self.mlp_ratio, dropout=self.dropout,
                                drop_path=rate, name=f"block{i}")(tokens, deterministic=not train)
    tokens = nn.LayerNorm(name="norm")(tokens)
    features = tokens[:, 0] if self.pool == "cls" else tokens.mean(axis=1)  # [b, dim]
    logits = nn.Dense(self.num_classes, kernel_init=nn.initializers.zeros, name="head")(
        nn.Dropout(self.dropout)(features, deterministic=not train))  # [b, num_classes]
    if self.distill:
      dist_logits = nn.Dense(self.num_classes, kernel_init=nn.initializers.zeros,
                             name="head_dist")(
          nn.Dropout(self.dropout)(tokens[:, 1], deterministic=not train))  # [b, num_classes]
      if heads:
        return logits, dist_logits
      logits = (logits + dist_logits) / 2
    return (logits, features) if return_features else logits
