"""Encoders and decoders for the autoencoder family (AE, VAE, CVAE, VampPrior): convolutional
(our digits default) or the VampPrior paper's gated MLPs."""

import math
from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgen.nets.layers import UpsampleConv


class ConvEncoder(nn.Module):
  """Image -> `num_outputs` latent vectors (mean and log-variance for a VAE, the code for an AE).

  Labels, when given as one-hot vectors, join the flattened features (CVAE).
  """

  latent_dim: int
  channels: Sequence[int] = (32, 64)
  hidden: int = 256
  num_outputs: int = 2

  @nn.compact
  def __call__(self, x: jax.Array, cond: jax.Array | None = None) -> tuple[jax.Array, ...]:
    """x: [b, h, w, c] in [0, 1]; cond: [b, k] or None -> tuple of [b, latent_dim]."""
    h = x * 2.0 - 1.0
    for ch in self.channels:
      h = nn.gelu(nn.Conv(ch, (4, 4), strides=(2, 2))(h))  # halve h and w
    h = h.reshape(h.shape[0], -1)  # [b, features]
    if cond is not None:
      h = jnp.concatenate([h, cond], axis=-1)
    h = nn.gelu(nn.Dense(self.hidden)(h))
    return tuple(nn.Dense(self.latent_dim, name=f"out_{i}")(h) for i in range(self.num_outputs))


def _with_condition(h: jax.Array, cond: jax.Array | None) -> jax.Array:
  """Appends a one-hot condition [b, k] to feature maps [b, h, w, c] as k constant channels."""
  if cond is None:
    return h
  maps = jnp.broadcast_to(cond[:, None, None, :], h.shape[:3] + cond.shape[-1:])
  return jnp.concatenate([h, maps], axis=-1)


class ConvDecoder(nn.Module):
  """Latent vector (and optional one-hot label) -> per-pixel logits or means [b, h, w, c].

  A label reaches every resolution (not only the input), so samples follow it even where the
  latent from the prior carries class-like information.
  """

  image_shape: tuple[int, int, int]
  channels: Sequence[int] = (32, 64)
  hidden: int = 256

  @nn.compact
  def __call__(self, z: jax.Array, cond: jax.Array | None = None) -> jax.Array:
    """z: [b, d]; cond: [b, k] or None -> [b, h, w, c] (unbounded: logits or means)."""
    h_img, w_img, c_img = self.image_shape
    factor = 2 ** len(self.channels)
    if cond is not None:
      z = jnp.concatenate([z, cond], axis=-1)
    h = nn.gelu(nn.Dense(self.hidden)(z))
    h = nn.gelu(nn.Dense((h_img // factor) * (w_img // factor) * self.channels[-1])(h))
    h = h.reshape(z.shape[0], h_img // factor, w_img // factor, self.channels[-1])
    for ch in reversed(self.channels):
      h = nn.gelu(UpsampleConv(ch)(_with_condition(h, cond)))  # double h and w
    return nn.Conv(c_img, (3, 3))(_with_condition(h, cond))  # [b, h, w, c]


class GatedDense(nn.Module):
  """Dense layer with a gate (Dauphin et al. 2017, as in the VampPrior paper's networks):
  Dense(x) * sigmoid(Dense'(x))."""

  features: int

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    """[b, n] -> [b, features]."""
    return nn.Dense(self.features, name="h")(x) * nn.sigmoid(nn.Dense(self.features, name="g")(x))


class GatedMLPEncoder(nn.Module):
  """Image -> `num_outputs` latent vectors through gated dense layers on the flattened pixels
  (Tomczak & Welling 2018: two layers of 300). Labels join the pixels (CVAE)."""

  latent_dim: int
  hidden: Sequence[int] = (300, 300)
  num_outputs: int = 2

  @nn.compact
  def __call__(self, x: jax.Array, cond: jax.Array | None = None) -> tuple[jax.Array, ...]:
    """x: [b, h, w, c] in [0, 1]; cond: [b, k] or None -> tuple of [b, latent_dim]."""
    h = x.reshape(x.shape[0], -1)  # [b, h w c]
    if cond is not None:
      h = jnp.concatenate([h, cond], axis=-1)
    for width in self.hidden:
      h = GatedDense(width)(h)
    return tuple(nn.Dense(self.latent_dim, name=f"out_{i}")(h) for i in range(self.num_outputs))


class GatedMLPDecoder(nn.Module):
  """Latent vector (and optional one-hot label) -> per-pixel logits [b, h, w, c] through gated
  dense layers (the VampPrior paper's decoder)."""

  image_shape: tuple[int, int, int]
  hidden: Sequence[int] = (300, 300)

  @nn.compact
  def __call__(self, z: jax.Array, cond: jax.Array | None = None) -> jax.Array:
    """z: [b, d]; cond: [b, k] or None -> [b, h, w, c] (unbounded: logits or means)."""
    h = z if cond is None else jnp.concatenate([z, cond], axis=-1)
    for width in self.hidden:
      h = GatedDense(width)(h)
    return nn.Dense(math.prod(self.image_shape))(h).reshape((z.shape[0], *self.image_shape))


class Autoencoder(nn.Module):
  """Encoder + decoder (+ VampPrior pseudo-inputs) in one parameter tree.

  Attributes:
    image_shape: (h, w, c); h and w must be multiples of 2 ** len(channels).
    latent_dim: size of z.
    stochastic: encoder outputs (mean, log-variance) when True, a code when False (plain AE).
    num_pseudo_inputs: K learned pseudo-inputs for the VampPrior (0: none).
    architecture: "conv" (ConvEncoder/ConvDecoder with `channels` and `hidden`) or
      "gated_mlp" (the VampPrior paper's two gated layers of `hidden` units each way).
  """

  image_shape: tuple[int, int, int]
  latent_dim: int
  channels: Sequence[int] = (32, 64)
  hidden: int = 256
  stochastic: bool = True
  num_pseudo_inputs: int = 0
  architecture: str = "conv"

  def setup(self):
    outputs = 2 if self.stochastic else 1
    if self.architecture == "gated_mlp":
      self.encoder = GatedMLPEncoder(self.latent_dim, (self.hidden,) * 2, outputs)
      self.decoder = GatedMLPDecoder(self.image_shape, (self.hidden,) * 2)
    else:
      self.encoder = ConvEncoder(self.latent_dim, self.channels, self.hidden, outputs)
      self.decoder = ConvDecoder(self.image_shape, self.channels, self.hidden)
    if self.num_pseudo_inputs:
      # Pseudo-input logits; sigmoid keeps the pseudo-images in the data range [0, 1].
      self.pseudo_logits = self.param("pseudo_logits", nn.initializers.normal(0.1),
                                      (self.num_pseudo_inputs, *self.image_shape))

  def encode(self, x: jax.Array, cond: jax.Array | None = None) -> tuple[jax.Array, ...]:
    """[b, h, w, c] -> (mean, log_var) each [b, d], or (code,) for a plain AE."""
    return self.encoder(x, cond)

  def decode(self, z: jax.Array, cond: jax.Array | None = None) -> jax.Array:
    """[b, d] -> logits [b, h, w, c]."""
    return self.decoder(z, cond)

  def pseudo_inputs(self) -> jax.Array:
    """The VampPrior's K pseudo-images [K, h, w, c] in [0, 1]."""
    return nn.sigmoid(self.pseudo_logits)

  def __call__(self, x: jax.Array, cond: jax.Array | None = None) -> jax.Array:
    """Initialisation path: encode then decode the mean (touches every parameter)."""
    z = self.encode(x, cond)[0]
    if self.num_pseudo_inputs:
      z = z + 0.0 * self.encode(self.pseudo_inputs()[:1], None if cond is None else cond[:1])[0]
    return self.decode(z, cond)
