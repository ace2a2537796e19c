"""Latent diffusion's first stage: a conv autoencoder with a diagonal-Gaussian posterior.

The encoder and decoder are the VQ tokenizer's (`jaxgen.nets.vq`: residual blocks, stride-2
convolutions down, nearest-neighbour doubling up); here the encoder's output carries a mean and a
log-variance per latent channel, and nothing is quantised. Images are padded with background
(0) to `padded_size` before encoding and cropped after decoding: 28x28 digits padded to 32x32
give 8x8 latents with two levels, which a U-Net can halve (7x7 ones it could not).
"""

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgen.nets.vq import VQDecoder, VQEncoder


def padding(size: int, padded_size: int) -> tuple[int, int]:
  """(before, after) pixels that bring `size` up to `padded_size`, centred."""
  total = padded_size - size
  return total // 2, total - total // 2


class KLAutoencoder(nn.Module):
  """Images [b, h, w, c] in [0, 1] <-> latents [b, P / 2^L, P / 2^L, latent_channels], with
  P = padded_size (default: the larger image side) and L = len(channels).

  Call `encode` (posterior mean and log-variance) and `decode` by method; `__call__` is the
  round trip through the mean, for init.
  """

  image_shape: tuple[int, int, int]
  channels: Sequence[int] = (32, 64)
  latent_channels: int = 4
  padded_size: int | None = None

  def setup(self):
    h, w, c = self.image_shape
    side = self.padded_size or max(h, w)
    if side < max(h, w) or side % 2 ** len(self.channels):
      raise ValueError(f"padded_size {side} must be at least {max(h, w)} and a multiple of "
                       f"{2 ** len(self.channels)}")
    self._pads = (padding(h, side), padding(w, side))
    padded = (side, side, c)
    self.encoder = VQEncoder(self.channels, 2 * self.latent_channels)
    self.decoder = VQDecoder(padded, self.channels)

  def encode(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """[b, h, w, c] in [0, 1] -> (mean, log_var), each [b, gh, gw, latent_channels]."""
    x = jnp.pad(x, ((0, 0), self._pads[0], self._pads[1], (0, 0)))  # background is 0
    mean, log_var = jnp.split(self.encoder(x), 2, axis=-1)
    # LDM clamps the log-variance so exp() stays finite early in training.
    return mean, jnp.clip(log_var, -30.0, 20.0)

  def decode(self, z: jax.Array) -> jax.Array:
    """[b, gh, gw, latent_channels] -> [b, h, w, c] on the [-1, 1] scale (unbounded)."""
    out = self.decoder(z)
    (top, _), (left, _) = self._pads
    h, w, _ = self.image_shape
    return out[:, top:top + h, left:left + w]

  def __call__(self, x: jax.Array) -> jax.Array:
    """Round trip through the posterior mean (for init): [b, h, w, c] -> [b, h, w, c]."""
    return self.decode(self.encode(x)[0])
