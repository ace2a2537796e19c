"""CycleGAN's ResNet generator and PatchGAN discriminator (Zhu et al. 2017), for small images.

Generator: c7s1-f, two stride-2 downsamplings, residual blocks, two stride-2 upsamplings,
c7s1-c with tanh; instance norm throughout and reflection padding so borders are not dark.
Discriminator: the 70x70 PatchGAN's C64-C128-C256-C512 stack scaled down: `num_layers` stride-2
4x4 convolutions, one stride-1 convolution, then a 1-channel convolution giving one real-vs-fake
score per patch. With 28x28 images and `num_layers=2` it returns a 7x7 map whose patches see
about 34 pixels, so each score judges a local stroke neighbourhood rather than the global layout.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgen.nets.layers import UpsampleConv

# CycleGAN's init: N(0, 0.02) for convolution kernels.
_KERNEL_INIT = nn.initializers.normal(0.02)


def reflect_pad(x: jax.Array, pad: int) -> jax.Array:
  """Pads the spatial axes of x [b, h, w, c] by reflection."""
  return jnp.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="reflect")


def _norm(x: jax.Array) -> jax.Array:
  """Instance norm: per example and channel over space, so it needs no batch statistics."""
  return nn.InstanceNorm(use_scale=False, use_bias=False)(x)


class ResidualBlock(nn.Module):
  """x + conv-norm-relu-conv-norm(x), with reflection padding; keeps [b, h, w, c]."""

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    """Applies the block."""
    features = x.shape[-1]
    y = nn.Conv(features, (3, 3), padding="VALID", kernel_init=_KERNEL_INIT)(reflect_pad(x, 1))
    y = nn.relu(_norm(y))
    y = nn.Conv(features, (3, 3), padding="VALID", kernel_init=_KERNEL_INIT)(reflect_pad(y, 1))
    return x + _norm(y)


class ResNetGenerator(nn.Module):
  """Translates images [b, h, w, c] in [-1, 1] to the other domain, same shape, in [-1, 1].

  Attributes:
    features: channels of the first layer; the downsampled layers have 2x and 4x.
    num_res_blocks: residual blocks at the lowest resolution (9 in the paper at 256 px).
    transposed_upsampling: upsample with the paper's 3x3 stride-2 transposed convolutions
      (its parameter count) rather than the CPU-fast sub-pixel 2x2 convolutions, which hold
      16/9 as many weights.
  """

  features: int = 32
  num_res_blocks: int = 6
  transposed_upsampling: bool = False

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    """Translates a batch; h and w must be divisible by 4."""
    channels = x.shape[-1]
    if x.shape[1] % 4 or x.shape[2] % 4:
      raise ValueError(f"ResNet generator needs h, w divisible by 4, got {x.shape}")
    f = self.features
    x = nn.Conv(f, (7, 7), padding="VALID", kernel_init=_KERNEL_INIT)(reflect_pad(x, 3))
    x = nn.relu(_norm(x))  # [b, h, w, f]
    for mult in (2, 4):
      x = nn.Conv(mult * f, (3, 3), strides=(2, 2), kernel_init=_KERNEL_INIT)(x)
      x = nn.relu(_norm(x))  # [b, h/2, w/2, 2f] then [b, h/4, w/4, 4f]
    for _ in range(self.num_res_blocks):
      x = ResidualBlock()(x)  # [b, h/4, w/4, 4f]
    for mult in (2, 1):
      # Sub-pixel form of a stride-2 transposed convolution (nets/layers.py: fast on CPU).
      if self.transposed_upsampling:
        x = nn.ConvTranspose(mult * f, (3, 3), strides=(2, 2), kernel_init=_KERNEL_INIT)(x)
      else:
        x = UpsampleConv(mult * f, kernel_init=_KERNEL_INIT)(x)
      x = nn.relu(_norm(x))  # [b, h/2, w/2, 2f] then [b, h, w, f]
    x = nn.Conv(channels, (7, 7), padding="VALID", kernel_init=_KERNEL_INIT)(reflect_pad(x, 3))
    return jnp.tanh(x)  # [b, h, w, c]


class PatchDiscriminator(nn.Module):
  """Maps images [b, h, w, c] in [-1, 1] to patch logits [b, h / 2**n, w / 2**n, 1].

  Attributes:
    features: channels of the first convolution, doubled per layer.
    num_layers: stride-2 convolutions (3 in the 70x70 PatchGAN; 2 suits 28x28 images).
  """

  features: int = 32
  num_layers: int = 2

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    """Scores every patch of every image."""
    for i in range(self.num_layers):
      x = nn.Conv(self.features * 2**i, (4, 4), strides=(2, 2), kernel_init=_KERNEL_INIT)(x)
      # No norm on the first layer: it would wash out the raw intensity statistics.
      x = nn.leaky_relu(x if i == 0 else _norm(x), 0.2)  # [b, h / 2**(i+1), w / 2**(i+1), f 2**i]
    x = nn.Conv(self.features * 2**self.num_layers, (4, 4), kernel_init=_KERNEL_INIT)(x)
    x = nn.leaky_relu(_norm(x), 0.2)  # [b, h / 2**n, w / 2**n, f 2**n]
    return nn.Conv(1, (4, 4), kernel_init=_KERNEL_INIT)(x)  # [b, h / 2**n, w / 2**n, 1]
