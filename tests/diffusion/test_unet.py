"""U-Net and noisy classifier shapes on tiny settings."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.nets.noisy_classifier import NoisyClassifier
from jaxgen.nets.unet import UNet, timestep_embedding


def init_key():
  """An rbg key: XLA compiles initialisers from it several times faster than from threefry."""
  return jax.random.key(1, impl="unsafe_rbg")


def test_timestep_embedding():
  emb = timestep_embedding(jnp.array([0, 10, 999]), 16)
  assert emb.shape == (3, 16)
  np.testing.assert_allclose(emb[0], np.r_[np.ones(8), np.zeros(8)])  # cos(0) = 1, sin(0) = 0


def test_unet_shapes_and_identity_start():
  net = UNet(out_channels=6, base_channels=8, channel_mult=(1, 2), num_res_blocks=1,
             attention_resolutions=(4,), dropout=0.1, num_classes=10, head_dim=8)
  x = jax.random.normal(jax.random.PRNGKey(0), (2, 8, 8, 3))
  t = jnp.array([3, 700])
  y = jnp.array([1, 10])  # a label and the null class
  out, variables = jax.jit(net.init_with_output)(init_key(), x, t, y)
  params = variables["params"]
  assert "class_embed" in params and any("AttentionBlock" in k for k in params)
  assert out.shape == (2, 8, 8, 6)
  # The output convolution starts at zero, so the untrained network predicts zeros.
  np.testing.assert_allclose(out, 0.0)
  # Unconditional: no class embedding; labels=None is accepted.
  shapes = jax.eval_shape(net.clone(num_classes=None).init, jax.random.PRNGKey(1), x, t)
  assert "class_embed" not in shapes["params"]


def test_unet_rejects_indivisible_sizes():
  net = UNet(out_channels=1, base_channels=8, channel_mult=(1, 2, 2), attention_resolutions=())
  with pytest.raises(ValueError, match="divisible"):
    jax.eval_shape(net.init, jax.random.PRNGKey(0), jnp.zeros((1, 6, 6, 1)), jnp.zeros((1,)))


def test_noisy_classifier_logits():
  net = NoisyClassifier(num_classes=10, base_channels=8, channel_mult=(1, 2), num_res_blocks=1)
  x, t = jnp.zeros((3, 8, 8, 1)), jnp.array([0, 5, 9])
  out, _ = jax.eval_shape(net.init_with_output, jax.random.PRNGKey(0), x, t)
  assert out.shape == (3, 10)
