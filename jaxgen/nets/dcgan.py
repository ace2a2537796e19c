"""DCGAN generator and discriminator (Radford et al. 2015), sized for small images.

Generator: project noise to a [h/4, w/4, 4f] map, then two stride-2 transposed convolutions with
batch norm and ReLU, tanh at the end (the paper's 64x64 shape: four doublings from 4x4x8f, the
last one straight to the image). Discriminator: stride-2 convolutions with LeakyReLU(0.2),
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
    image_shape: (h, w, c); h and w must be divisible by 2^num_doublings.
    features: channels of the last hidden layer; earlier layers have 2x, 4x, ...
    num_classes: 0 for an unconditional generator, else the number of labels.
    num_doublings: 2x upsamplings from the projected map to the image (2 for 28x28 digits; the
      paper's 64x64 generator has 4: 4 -> 8 -> 16 -> 32 -> 64).
    upsample_to_image: the paper's last layer, an upsampling straight to the image channels;
      otherwise (our digits default) every doubling is a hidden layer and a 3x3 convolution
      maps to the image.
  """

  image_shape: tuple[int, int, int]
  features: int = 64
  num_classes: int = 0
  num_doublings: int = 2
  upsample_to_image: bool = False

  @nn.compact
  def __call__(self, z: jax.Array, labels: jax.Array | None = None,
               train: bool = True) -> jax.Array:
    """Generates one image per noise vector; batch norm uses batch stats when `train`."""
    h, w, c = self.image_shape
    scale = 2**self.num_doublings
    if h % scale or w % scale:
      raise ValueError(f"DCGAN generator needs h, w divisible by {scale}, got {self.image_shape}")
    hidden = self.num_doublings - 1 if self.upsample_to_image else self.num_doublings
    widths = [self.features * 2**i for i in reversed(range(hidden + 1))]  # [.., 2f, f]
    norm = lambda x: nn.BatchNorm(use_running_average=not train, momentum=_BN_MOMENTUM)(x)
    x = append_one_hot(z, labels, self.num_classes)  # [b, latent (+ classes)]
    # No biases before batch norm: its mean subtraction cancels them (their gradient is 0).
    x = nn.Dense(h // scale * w // scale * widths[0], use_bias=False, kernel_init=_KERNEL_INIT)(x)
    x = x.reshape((-1, h // scale, w // scale, widths[0]))  # [b, h/2^d, w/2^d, 2^hidden f]
    x = nn.relu(norm(x))
    # Transposed 4x4/2 convolutions in their sub-pixel form (see nets/layers.py: 10x faster
    # on XLA's CPU backend; the same receptive field and parameter count, 16 c_in c_out).
    for width in widths[1:]:
      x = UpsampleConv(width, use_bias=False, kernel_init=_KERNEL_INIT)(x)
      x = nn.relu(norm(x))  # [b, 2x, 2x, width]
    if self.upsample_to_image:  # the paper's: no bias, no batch norm
      x = UpsampleConv(c, use_bias=False, kernel_init=_KERNEL_INIT)(x)  # [b, h, w, c]
    else:  # a stride-1 convolution to the image channels, without batch norm
      x = nn.Conv(c, (3, 3), kernel_init=_KERNEL_INIT)(x)  # [b, h, w, c]
    return jnp.tanh(x)


class DCGANDiscriminator(nn.Module):
  """Maps images [b, h, w, c] in [-1, 1] (and labels [b]) to real-vs-fake logits [b].

  Attributes:
    features: channels of the first convolution; each later one has 2x.
    num_classes: 0 for an unconditional discriminator, else the number of labels.
    num_layers: stride-2 convolutions (2 for 28x28 digits; the paper's 64x64 one has 4).
  """

  features: int = 64
  num_classes: int = 0
  num_layers: int = 2

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
    for i in range(1, self.num_layers):
      x = nn.Conv(self.features * 2**i, (4, 4), strides=(2, 2), use_bias=False,
                  kernel_init=_KERNEL_INIT)(x)
      x = nn.BatchNorm(use_running_average=not train, momentum=_BN_MOMENTUM)(x)
      x = nn.leaky_relu(x, 0.2)  # [b, h/2^(i+1), w/2^(i+1), 2^i f]
    x = x.reshape((x.shape[0], -1))  # [b, h w 2^(layers-1) f / 4^layers]
    return nn.Dense(1, kernel_init=_KERNEL_INIT)(x)[:, 0]  # [b]
