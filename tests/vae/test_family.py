"""The autoencoder family's variants: conditioning, priors, sampling and errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.special import logsumexp

from jaxgen.data.pipeline import SplitData
from jaxgen.errors import UserError
from jaxgen.nets.autoencoder import Autoencoder
from jaxgen.train.compile import run_once
from jaxgen.train.family import DataSpec, make_family
from jaxgen.vae import distributions as D
from jaxgen.vae.family import build_model
from tests.helpers import assert_plausible_images, tiny_config


@pytest.fixture(scope="module")
def batch():
  return jax.tree.map(jnp.asarray, SplitData.open("embedded_digits", "train").train_batches(32, 0)[0])


@pytest.mark.parametrize("variant,architecture", [
    ("ae", "conv"), ("vae", "conv"), ("cvae", "conv"), ("vampprior", "conv"),
    ("vampprior", "gated_mlp"), ("cvae", "gated_mlp")])
@pytest.mark.slow
def test_each_variant_learns_on_real_digits(variant, architecture, batch):
  """30 steps on one batch of real digits cut the loss by 20% (the gated MLPs are the
  VampPrior paper's networks at its 300 units, cheap on CPU; the CVAE checks their label path)."""
  overrides = {"architecture": architecture, **({"hidden": 300} if architecture != "conv" else {})}
  family = make_family(tiny_config(variant, **overrides), DataSpec((28, 28, 1), 10))
  state = run_once(family.create_state, jax.random.key(0), batch)
  step = jax.jit(family.train_step)
  losses = []
  for i in range(30):
    state, metrics = step(state, batch, jax.random.key(i))
    losses.append(float(metrics["loss"]))
  assert np.mean(losses[-5:]) < 0.8 * np.mean(losses[:5])
  samples = family.sample(state, jax.random.key(0), 6, jnp.arange(6) % 10)
  assert samples.shape == (6, 28, 28, 1)
  assert_plausible_images(samples)


def test_cvae_samples_depend_on_the_label(batch):
  family = make_family(tiny_config("cvae"), DataSpec((28, 28, 1), 10))
  state = run_once(family.create_state, jax.random.key(0), batch)
  a = family.sample(state, jax.random.key(3), 4, jnp.zeros(4, jnp.int32))
  b = family.sample(state, jax.random.key(3), 4, jnp.full(4, 7, jnp.int32))
  assert not np.allclose(a, b)
  assert family.conditional


def log_normal_np(z: np.ndarray, mean: np.ndarray, log_var: np.ndarray) -> np.ndarray:
  """log N(z; mean, diag exp(log_var)) summed over the last axis, float64 numpy."""
  return np.sum(-0.5 * (np.log(2 * np.pi) + log_var + (z - mean) ** 2 / np.exp(log_var)), -1)


def test_vampprior_prior_is_the_encoder_at_pseudo_inputs(batch):
  """The VampPrior's KL term, log q(z|x) - log p(z), against numpy with p(z) = (1/K) sum_k
  N(z; mu_k, sigma_k^2), (mu_k, log sigma_k^2) the encoder at sigmoid(pseudo_logits_k)."""
  config = tiny_config("vampprior")
  spec = DataSpec((28, 28, 1), 10)
  family = make_family(config, spec)
  state = run_once(family.create_state, jax.random.key(0), batch)
  k = config.num_pseudo_inputs
  assert state.params["pseudo_logits"].shape == (k, 28, 28, 1)
  # A few steps, so the encoder tells digits apart: at initialisation it maps every image near
  # N(0, I), and the standard normal prior would pass for the VampPrior.
  step = jax.jit(family.train_step)
  for i in range(20):
    state, _ = step(state, batch, jax.random.key(i))
  # Pseudo-inputs from K different digits, so the components differ (as initialised all are
  # nearly the same grey image and any one of them would pass for the mixture).
  pseudo = np.clip(np.asarray(batch["image"][-k:]), 0.02, 0.98)  # [K, 28, 28, 1]
  params = {**state.params, "pseudo_logits": jnp.asarray(np.log(pseudo / (1 - pseudo)))}
  state = state.replace(params=params)
  # Binary images, so the test binarisation of eval_step leaves them as they are.
  x = (batch["image"][:8] > 0.5).astype(jnp.float32)  # [b, 28, 28, 1]
  rng = jax.random.key(3)
  metrics = family.eval_step(state, {"image": x, "label": batch["label"][:8]}, rng)

  model = build_model(config, spec)
  encode = lambda images: model.apply({"params": params}, images, None, method=Autoencoder.encode)
  mean, log_var = (np.asarray(v, np.float64) for v in encode(x))  # [b, d]
  mus, log_vars = (np.asarray(v, np.float64)
                   for v in encode(jax.nn.sigmoid(params["pseudo_logits"])))  # [K, d]
  # The draw eval_step makes from q(z|x) (its rng goes straight to the ELBO).
  z = np.asarray(D.reparameterize(rng, jnp.asarray(mean, jnp.float32),
                                  jnp.asarray(log_var, jnp.float32)), np.float64)  # [b, d]
  per_component = log_normal_np(z[:, None], mus[None], log_vars[None])  # [b, K]
  log_prior = logsumexp(per_component, axis=1) - np.log(k)  # [b]
  kl = log_normal_np(z, mean, log_var) - log_prior  # [b]
  np.testing.assert_allclose(float(metrics["kl"]), kl.mean(), rtol=1e-4, atol=1e-5)
  # What the comparison tells apart: with one component, or N(0, I), for the prior the KL
  # would be this far off.
  log_q = log_normal_np(z, mean, log_var)  # [b]
  for wrong_prior in [per_component[:, 0], log_normal_np(z, 0 * z, 0 * z)]:
    assert abs(np.mean(log_q - wrong_prior) - kl.mean()) > 0.1


def test_image_shape_that_does_not_fit_is_a_clear_error():
  with pytest.raises(UserError, match="multiples of 4"):
    make_family(tiny_config("vae"), DataSpec((30, 30, 1), 10))
