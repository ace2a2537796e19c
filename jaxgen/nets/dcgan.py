"""DCGAN generator and discriminator (Radford et al. 2015), sized for small images.

Generator: project noise to a [h/4, w/4, 4f] map, then two stride-2 transposed convolutions with
batch norm and ReLU, tanh at the end. Discriminator: stride-2 convolutions with LeakyReLU(0.2),
batch norm on all but the first layer, as in the paper. Both take labels for the conditional GAN:
the generator appends a one-hot label to the noise, the discriminator appends it to the image as
constant channel maps, so the class is visible at every position.

Batch norm runs in training mode inside the train step; call `apply` with
`mutable=["batch_stats"]` there. Under `jax.jit` with the batch sharded on a mesh axis, the batch
mean and variance are reductions over the global batch, so no `axis_name` is needed.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgen.nets.gan_mlp import append_one_hot
from jaxgen.nets.layers import UpsampleConv

# The paper's DCGAN init: N(0, 0.02) for convolution kernels.
_KERNEL_INIT = nn.initializers.normal(0.02)
# A short running-average window: the generator changes fast, and samples use these averages.
_BN_MOMENTUM = 0.9


class DCGANGenerator(nn.Module):
  """Maps noise [b, latent] (and labels [b]) to images [b, h, w, c] in [-1, 1].

  Attributes:
    image_shape: (h, w, c); h and w must be divisible by 4 (two doublings).
    features: channels of the last hidden layer; earlier layers have 2x and 4x.
    num_classes: 0 for an unconditional generator, else the number of labels.
  """

  image_shape: tuple[int, int, int]
  features: int = 64
  num_classes: int = 0

  @nn.compact
  def __call__(self, z: jax.Array, labels: jax.Array | None = None,
               train: bool = True) -> jax.Array:
    """Generates one image per noise vector; batch norm uses batch stats when `train`."""
    h, w, c = self.image_shape
    if h % 4 or w % 4:
      raise ValueError(f"DCGAN generator needs h, w divisible by 4, got {self.image_shape}")
    norm = lambda x: nn.BatchNorm(use_running_average=not train, momentum=_BN_MOMENTUM)(x)
    x = append_one_hot(z, labels, self.num_classes)  # [b, latent (+ classes)]
    # No biases before batch norm: its mean subtraction cancels them (their gradient is 0).
    x = nn.Dense(h // 4 * w // 4 * 4 * self.features, use_bias=False, kernel_init=_KERNEL_INIT)(x)
    x = x.reshape((-1, h // 4, w // 4, 4 * self.features))  # [b, h/4, w/4, 4f]
    x = nn.relu(norm(x))
    # Transposed 4x4/2 convolutions in their sub-pixel form (see nets/layers.py: 10x faster
    # on XLA's CPU backend, same receptive field).
    x = UpsampleConv(2 * self.features, use_bias=False, kernel_init=_KERNEL_INIT)(x)
    x = nn.relu(norm(x))  # [b, h/2, w/2, 2f]
    x = UpsampleConv(self.features, use_bias=False, kernel_init=_KERNEL_INIT)(x)
    x = nn.relu(norm(x))  # [b, h, w, f]
    # A last stride-1 convolution to the image channels, without batch norm (as in the paper).
    x = nn.Conv(c, (3, 3), kernel_init=_KERNEL_INIT)(x)  # [b, h, w, c]
    return jnp.tanh(x)


class DCGANDiscriminator(nn.Module):
  """Maps images [b, h, w, c] in [-1, 1] (and labels [b]) to real-vs-fake logits [b].

  Attributes:
    features: channels of the first convolution; the second has 2x.
    num_classes: 0 for an unconditional discriminator, else the number of labels.
  """

  features: int = 64
  num_classes: int = 0

  @nn.compact
  def __call__(self, images: jax.Array, labels: jax.Array | None = None,
               train: bool = True) -> jax.Array:
    """Scores each image; batch norm uses batch stats when `train`."""
    x = images  # [b, h, w, c]
    if self.num_classes:
      b, h, w, _ = images.shape
      maps = append_one_hot(jnp.zeros((b, 0), x.dtype), labels, self.num_classes)  # [b, classes]
      maps = jnp.broadcast_to(maps[:, None, None, :], (b, h, w, self.num_classes))
      x = jnp.concatenate([x, maps], axis=-1)  # [b, h, w, c + classes]
    x = nn.Conv(self.features, (4, 4), strides=(2, 2), kernel_init=_KERNEL_INIT)(x)
    x = nn.leaky_relu(x, 0.2)  # [b, h/2, w/2, f]
    x = nn.Conv(2 * self.features, (4, 4), strides=(2, 2), use_bias=False,
                kernel_init=_KERNEL_INIT)(x)
    x = nn.BatchNorm(use_running_average=not train, momentum=_BN_MOMENTUM)(x)
    x = nn.leaky_relu(x, 0.2)  # [b, h/4, w/4, 2f]
    x = x.reshape((x.shape[0], -1))  # [b, h/4 * w/4 * 2f]
    return nn.Dense(1, kernel_init=_KERNEL_INIT)(x)[:, 0]  # [b]
