"""Output shapes of every GAN network, checked abstractly (no FLOPs) with jax.eval_shape."""

import jax
import jax.numpy as jnp
import pytest

from jaxgen.nets import cyclegan, dcgan, gan_mlp

B, SHAPE = 3, (28, 28, 1)
Z = jax.ShapeDtypeStruct((B, 16), jnp.float32)
X = jax.ShapeDtypeStruct((B, *SHAPE), jnp.float32)
Y = jax.ShapeDtypeStruct((B,), jnp.int32)


@pytest.mark.parametrize("module, args, out_shape, collections", [
    (gan_mlp.MLPGenerator(SHAPE, (8, 16)), (Z,), (B, *SHAPE), {"params"}),
    (gan_mlp.MLPGenerator(SHAPE, (8,), num_classes=10), (Z, Y), (B, *SHAPE), {"params"}),
    (gan_mlp.MLPDiscriminator((16, 8)), (X,), (B,), {"params"}),
    (gan_mlp.MLPDiscriminator((8,), num_classes=10), (X, Y), (B,), {"params"}),
    (dcgan.DCGANGenerator(SHAPE, 4), (Z,), (B, *SHAPE), {"params", "batch_stats"}),
    (dcgan.DCGANGenerator((32, 32, 3), 4, 10),
     (Z, Y), (B, 32, 32, 3), {"params", "batch_stats"}),
    (dcgan.DCGANDiscriminator(4), (X,), (B,), {"params", "batch_stats"}),
    (dcgan.DCGANDiscriminator(4, 10), (X, Y), (B,), {"params", "batch_stats"}),
    (cyclegan.ResNetGenerator(4, 2), (X,), (B, *SHAPE), {"params"}),
    (cyclegan.PatchDiscriminator(4, 2), (X,), (B, 7, 7, 1), {"params"}),
    (cyclegan.PatchDiscriminator(4, 1), (X,), (B, 14, 14, 1), {"params"}),
])
def test_output_shapes(module, args, out_shape, collections):
  out, variables = jax.eval_shape(lambda *a: module.init_with_output(jax.random.key(0), *a),
                                  *args)
  assert out.shape == out_shape
  assert set(variables) == collections


def test_conditional_net_without_labels_fails_loudly():
  with pytest.raises(ValueError, match="needs labels"):
    jax.eval_shape(lambda z: gan_mlp.MLPGenerator(SHAPE, (8,), 10).init(jax.random.key(0), z), Z)
