"""TransGAN (Jiang et al. 2021): a generator and a discriminator made of transformer blocks only.

Generator: noise (and a label embedding) -> a linear map to an (h/4) x (w/4) grid of tokens ->
transformer stages at h/4, h/2 and h (7, 14, 28 for digits), each with its own learned position
embedding; between stages a pixel shuffle (depth-to-space) doubles the grid and divides the width by
4, as VITA-Group's `pixel_upsample`, then a per-token linear map sets the next stage's width when it
differs: at 128 tokens wide at 7x7, the reference's 4x narrowing would leave 8 channels at 28x28,
too few for a LayerNorm to keep the pixel intensities (over 2 channels it keeps only their sign).
The last stage can attend within windows (TransGAN's "grid self-attention"): full attention over
784 tokens is 16x the work of 7x7 windows. A final LayerNorm and a per-token linear map (a 1x1
convolution) give the image channels, tanh to [-1, 1] as DCGAN.

Discriminator: the ViT of `jaxgen.nets.vit` with a critic head: strided-conv patch embedding, class
token, learned positions, pre-LN blocks, a final LayerNorm, and one score read from the class
token. Conditional: a projection discriminator (Miyato & Koyama 2018), score = head(f) + <E y, f>
for the class token's features f, rather than a label token: the label then acts on every score
directly instead of waiting for attention to learn to read it, it adds one embedding table and no
tokens, and the critic stays a function of each image alone, as the gradient penalty assumes.

Both networks use LayerNorm only (no batch norm): WGAN-GP's penalty needs per-image critics.
`ConvCritic` is the convolutional critic of the variant that pairs the transformer generator
with a CNN (Durall et al. 2021), likewise without normalisation.
"""

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgen.nets.attention import LearnedPositionEmbedding, TransformerBlock
from jaxgen.nets.layers import depth_to_space, space_to_depth


def _check_conditional(labels: jax.Array | None, num_classes: int) -> None:
  if num_classes and labels is None:
    raise ValueError("a conditional network needs labels")


def _projection_score(features: jax.Array, labels: jax.Array | None, num_classes: int
                      ) -> jax.Array:
  """A critic's score from its features [b, d] (called inside a compact module, whose "head"
  and "label_projection" it creates): linear, plus with labels the projection <E y, f>
  (Miyato & Koyama 2018), large when the features match the label's direction. [b]."""
  score = nn.Dense(1, name="head")(features)[:, 0]  # [b]
  if num_classes:
    embedding = nn.Embed(num_classes, features.shape[-1], name="label_projection")(labels)
    score = score + jnp.sum(embedding * features, axis=-1)
  return score


class TransGANGenerator(nn.Module):
  """Maps noise [b, latent] (and labels [b]) to images [b, h, w, c] in [-1, 1].

  Attributes:
    image_shape: (h, w, c); h and w divisible by 4 (two pixel-shuffle doublings).
    widths: token width per stage (three stages: h/4, h/2, h); the first two divisible by 4.
    depths: transformer blocks per stage.
    num_heads: attention heads per stage (each must divide its stage's width).
    mlp_ratio: MLP width as a multiple of the token width.
    window: windowed attention at the last stage with this window side (None: full attention).
    num_classes: 0 for an unconditional generator, else the number of labels.
    label_in_blocks: the label's embedding also modulates every transformer block (a
      conditional layer norm: adaLN-Zero, see `TransformerBlock`) rather than entering once
      beside the noise.
  """

  image_shape: tuple[int, int, int]
  widths: Sequence[int] = (128, 32, 16)
  depths: Sequence[int] = (2, 1, 1)
  num_heads: Sequence[int] = (4, 2, 1)
  mlp_ratio: float = 4.0
  window: int | None = 7
  num_classes: int = 0
  label_in_blocks: bool = False

  @nn.compact
  def __call__(self, z: jax.Array, labels: jax.Array | None = None,
               train: bool = True) -> jax.Array:
    """Generates one image per noise vector; `train` is unused (no dropout or batch norm)."""
    del train
    h, w, c = self.image_shape
    if h % 4 or w % 4 or any(width % 4 for width in self.widths[:-1]):
      raise ValueError(f"TransGAN needs h, w and the widths of the first two stages divisible by "
                       f"4, got {self.image_shape}, widths {self.widths}")
    if not len(self.widths) == len(self.depths) == len(self.num_heads) == 3:
      raise ValueError("TransGAN's generator has three stages: give three widths, depths, heads")
    _check_conditional(labels, self.num_classes)
    b = z.shape[0]
    condition = None
    if self.num_classes:
      y = nn.Embed(self.num_classes, z.shape[-1], name="label_embedding")(labels)  # [b, latent]
      z = jnp.concatenate([z, y], axis=-1)  # [b, 2 latent]
      if self.label_in_blocks:
        # Its own table at unit scale: the one beside the noise starts at std ~1/sqrt(latent).
        condition = nn.Embed(self.num_classes, z.shape[-1], embedding_init=nn.initializers.normal(
            1.0), name="block_label_embedding")(labels)  # [b, 2 latent]
    gh, gw, width = h // 4, w // 4, self.widths[0]
    x = nn.Dense(gh * gw * width, name="to_tokens")(z).reshape(b, gh * gw, width)  # [b, 49, w0]
    for stage, (depth, heads) in enumerate(zip(self.depths, self.num_heads)):
      if stage:
        # Pixel shuffle: [b, gh, gw, width] -> [b, 2gh, 2gw, width / 4], then tokens again.
        x = depth_to_space(x.reshape(b, gh, gw, width), 2)
        gh, gw = 2 * gh, 2 * gw
        x = x.reshape(b, gh * gw, width // 4)  # [b, n, width / 4]
        width = self.widths[stage]
        if x.shape[-1] != width:
          x = nn.Dense(width, name=f"widen{stage}")(x)  # [b, n, width]
      x = LearnedPositionEmbedding(name=f"position{stage}")(x)  # a new table per stage
      last = stage == len(self.depths) - 1
      window = self.window if last else None
      for i in range(depth):
        x = TransformerBlock(heads, mlp_ratio=self.mlp_ratio, window=window,
                             name=f"stage{stage}_block{i}")(x, grid=(gh, gw),
                                                           modulation=condition)
    x = nn.LayerNorm(name="norm")(x)  # [b, h * w, widths[2]]
    x = nn.Dense(c, name="to_pixels")(x)  # a 1x1 convolution over the token grid
    return jnp.tanh(x.reshape(b, h, w, c))


class TransGANDiscriminator(nn.Module):
  """Maps images [b, h, w, c] in [-1, 1] (and labels [b]) to critic scores [b].

  Attributes:
    patch: side of the square patches; must divide h and w (4 or 7 for 28x28 digits).
    dim: token width.
    depth: transformer blocks.
    num_heads: attention heads per block.
    mlp_ratio: MLP width as a multiple of dim.
    num_classes: 0 for an unconditional critic, else the number of labels (projection).
  """

  patch: int = 4
  dim: int = 64
  depth: int = 3
  num_heads: int = 4
  mlp_ratio: float = 4.0
  num_classes: int = 0

  @nn.compact
  def __call__(self, images: jax.Array, labels: jax.Array | None = None,
               train: bool = True) -> jax.Array:
    """Scores each image on its own (LayerNorm only); `train` is unused (no dropout)."""
    del train
    b, h, w, _ = images.shape
    if h % self.patch or w % self.patch:
      raise ValueError(f"patch {self.patch} does not divide the {h}x{w} images")
    _check_conditional(labels, self.num_classes)
    tokens = nn.Conv(self.dim, (self.patch, self.patch), strides=(self.patch, self.patch),
                     padding="VALID", name="embedding")(images)  # [b, h/p, w/p, dim]
    tokens = tokens.reshape(b, -1, self.dim)  # [b, n, dim], row-major patches
    cls = self.param("cls", nn.initializers.zeros, (1, 1, self.dim))
    tokens = jnp.concatenate([jnp.broadcast_to(cls, (b, 1, self.dim)), tokens], axis=1)
    tokens = LearnedPositionEmbedding(name="position")(tokens)  # [b, n + 1, dim]
    for i in range(self.depth):
      tokens = TransformerBlock(self.num_heads, mlp_ratio=self.mlp_ratio, name=f"block{i}")(tokens)
    features = nn.LayerNorm(name="norm")(tokens)[:, 0]  # [b, dim]: the class token
    return _projection_score(features, labels, self.num_classes)


def shifted_2x2(x: jax.Array) -> jax.Array:
  """[b, h, w, c] -> [b, h, w, 4c]: each position with its right, lower and lower-right
  neighbours (zero past the edge), so a Dense layer on it is a 2x2 "SAME" convolution made of
  slices and a matmul, whose derivatives of every order are slices and matmuls too."""
  padded = jnp.pad(x, ((0, 0), (0, 1), (0, 1), (0, 0)))  # [b, h + 1, w + 1, c]
  h, w = x.shape[1], x.shape[2]
  return jnp.concatenate([padded[:, i:i + h, j:j + w] for i in (0, 1) for j in (0, 1)], axis=-1)


class ConvCritic(nn.Module):
  """A convolutional critic for TransGAN's generator (Durall et al. 2021: a transformer
  generator trains against a CNN critic without the transformer critic's tricks): layers that
  halve the resolution, with leaky ReLU and no normalisation (WGAN-GP's penalty needs each image
  scored alone, which batch norm breaks), a linear score, and the same projection for labels as
  `TransGANDiscriminator`.

  Each layer is space-to-depth then a 2x2 convolution written as a matmul over the four shifted
  copies (`shifted_2x2`): the receptive field of the usual stride-2 4x4 convolution, without a
  convolution op. The gradient penalty differentiates the critic's input gradient again, and
  XLA's CPU backend runs the convolutions that makes (a strided convolution's dilated input
  gradient; the weight gradients of that gradient) on slow paths: a TransGAN step took about
  8 s with stride-2 convolutions and 20 s with space-to-depth and 2x2 convolutions, 96% of it in
  those convolutions, and takes 1.0 s so (`python -m experiments.bench.profile_steps --configs
  transgan_conv`, 2 cores shared with a training). The penalty's gradient alone at batch 32:
  0.51 s strided against 0.070 s (`python -m experiments.bench.critic_penalty`, alternately).

  Attributes:
    features: channels of the first convolution; each later one has 2x.
    num_layers: resolution-halving layers (an odd side is padded by one row and column).
    num_classes: 0 for an unconditional critic, else the number of labels (projection).
  """

  features: int = 64
  num_layers: int = 3
  num_classes: int = 0

  @nn.compact
  def __call__(self, images: jax.Array, labels: jax.Array | None = None,
               train: bool = True) -> jax.Array:
    """images [b, h, w, c] in [-1, 1] -> scores [b]; `train` is unused."""
    del train
    _check_conditional(labels, self.num_classes)
    x = images
    for i in range(self.num_layers):
      if x.shape[1] % 2 or x.shape[2] % 2:  # 7x7 -> 8x8, as a SAME stride-2 convolution pads
        x = jnp.pad(x, ((0, 0), (0, x.shape[1] % 2), (0, x.shape[2] % 2), (0, 0)))
      x = space_to_depth(x, 2)  # [b, h / 2, w / 2, 4 c]
      x = nn.leaky_relu(nn.Dense(self.features * 2**i, name=f"conv{i}")(
          shifted_2x2(x)), 0.2)  # [b, h / 2, w / 2, f 2^i]
    return _projection_score(x.reshape(x.shape[0], -1), labels, self.num_classes)
