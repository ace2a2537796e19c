"""Fully connected generator and discriminator of the original GAN, optionally label-conditioned.

Conditioning (CGAN, Mirza & Osindero 2014) concatenates a one-hot label to the generator's noise
and to the discriminator's flattened image, so both players see the class.
"""

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp


def append_one_hot(x: jax.Array, labels: jax.Array | None, num_classes: int) -> jax.Array:
  """Concatenates one-hot `labels` [b] to features `x` [b, d] when the net is conditional."""
  if num_classes == 0:
    return x
  if labels is None:
    raise ValueError("a conditional network needs labels")
  return jnp.concatenate([x, jax.nn.one_hot(labels, num_classes, dtype=x.dtype)], axis=-1)


class MLPGenerator(nn.Module):
  """Maps noise [b, latent] (and labels [b]) to images [b, h, w, c] in [-1, 1].

  Attributes:
    image_shape: (h, w, c) of the generated images.
    hidden: widths of the hidden layers.
    num_classes: 0 for an unconditional generator, else the number of labels.
  """

  image_shape: tuple[int, int, int]
  hidden: Sequence[int] = (256, 512)
  num_classes: int = 0

  @nn.compact
  def __call__(self, z: jax.Array, labels: jax.Array | None = None,
               train: bool = True) -> jax.Array:
    """Generates one image per noise vector; `train` is unused (no batch norm here)."""
    del train
    x = append_one_hot(z, labels, self.num_classes)  # [b, latent (+ classes)]
    for width in self.hidden:
      x = nn.leaky_relu(nn.Dense(width)(x), 0.2)  # [b, width]
    h, w, c = self.image_shape
    x = jnp.tanh(nn.Dense(h * w * c)(x))  # [b, h * w * c]
    return x.reshape((-1, h, w, c))


class MLPDiscriminator(nn.Module):
  """Maps images [b, h, w, c] in [-1, 1] (and labels [b]) to real-vs-fake logits [b].

  Attributes:
    hidden: widths of the hidden layers.
    num_classes: 0 for an unconditional discriminator, else the number of labels.
  """

  hidden: Sequence[int] = (512, 256)
  num_classes: int = 0

  @nn.compact
  def __call__(self, images: jax.Array, labels: jax.Array | None = None,
               train: bool = True) -> jax.Array:
    """Scores each image; `train` is unused (no batch norm here)."""
    del train
    x = images.reshape((images.shape[0], -1))  # [b, h * w * c]
    x = append_one_hot(x, labels, self.num_classes)  # [b, h * w * c (+ classes)]
    for width in self.hidden:
      x = nn.leaky_relu(nn.Dense(width)(x), 0.2)  # [b, width]
    return nn.Dense(1)(x)[:, 0]  # [b]
