"""The autoencoder family's variants: conditioning, priors, sampling and errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.data.pipeline import SplitData
from jaxgen.errors import UserError
from jaxgen.train.family import DataSpec, make_family
from tests.helpers import tiny_config


@pytest.fixture(scope="module")
def batch():
  return jax.tree.map(jnp.asarray, SplitData.open("embedded_digits", "train").train_batches(32, 0)[0])


@pytest.mark.parametrize("variant", ["ae", "vae", "cvae", "vampprior"])
def test_each_variant_learns_on_real_digits(variant, batch):
  family = make_family(tiny_config(variant), DataSpec((28, 28, 1), 10))
  state = family.create_state(jax.random.key(0), batch)
  step = jax.jit(family.train_step)
  losses = []
  for i in range(30):
    state, metrics = step(state, batch, jax.random.key(i))
    losses.append(float(metrics["loss"]))
  assert np.mean(losses[-5:]) < 0.8 * np.mean(losses[:5])
  samples = family.sample(state, jax.random.key(0), 6, jnp.arange(6) % 10)
  assert samples.shape == (6, 28, 28, 1)
  assert float(samples.min()) >= 0.0 and float(samples.max()) <= 1.0


def test_cvae_samples_depend_on_the_label(batch):
  family = make_family(tiny_config("cvae"), DataSpec((28, 28, 1), 10))
  state = family.create_state(jax.random.key(0), batch)
  a = family.sample(state, jax.random.key(3), 4, jnp.zeros(4, jnp.int32))
  b = family.sample(state, jax.random.key(3), 4, jnp.full(4, 7, jnp.int32))
  assert not np.allclose(a, b)
  assert family.conditional


def test_vampprior_prior_is_the_encoder_at_pseudo_inputs(batch):
  config = tiny_config("vampprior")
  family = make_family(config, DataSpec((28, 28, 1), 10))
  state = family.create_state(jax.random.key(0), batch)
  pseudo = state.params["pseudo_logits"]
  assert pseudo.shape == (config.num_pseudo_inputs, 28, 28, 1)


def test_image_shape_that_does_not_fit_is_a_clear_error():
  with pytest.raises(UserError, match="multiples of 4"):
    make_family(tiny_config("vae"), DataSpec((30, 30, 1), 10))
