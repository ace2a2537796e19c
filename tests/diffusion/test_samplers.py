"""Samplers on Gaussian data, where the exact eps-network is known in closed form."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.diffusion import samplers, schedules
from jaxgen.diffusion.process import Spec, VarType
from gaussian_data import exact_eps_fn

MU, S = 0.3, 0.5
SPEC = Spec(var_type=VarType.FIXED_SMALL, clip_x0=False)


@pytest.fixture(scope="module")
def setup():
  betas = schedules.linear_betas(200)
  sched = schedules.from_betas(betas)
  return betas, sched, exact_eps_fn(sched, MU, S)


def noise(key, n=1024):
  return jax.random.normal(jax.random.PRNGKey(key), (n, 2, 2, 1))


def assert_data_moments(x, tol=0.05):
  assert abs(float(x.mean()) - MU) < tol and abs(float(x.std()) - S) < tol


def test_ddpm_ancestral_samples_the_data_distribution(setup):
  _, sched, fn = setup
  x = jax.jit(lambda z: samplers.ddpm_sample(SPEC, sched, fn, z, jax.random.PRNGKey(0)))(noise(0))
  assert_data_moments(x)


def test_ddim_is_deterministic_and_compiles_once(setup):
  _, sched, fn = setup

  @jax.jit
  @chex.assert_max_traces(n=1)
  def run(z, rng):
    return samplers.ddim_sample(SPEC, sched, fn, z, rng, eta=0.0)

  a = run(noise(0), jax.random.PRNGKey(0))
  b = run(noise(0), jax.random.PRNGKey(1))  # a new rng and a second call: no retrace
  np.testing.assert_array_equal(a, b)
  assert_data_moments(a)
  c = run(noise(1), jax.random.PRNGKey(2))
  assert not np.allclose(a, c)


def ddim_std_in_closed_form(abar: np.ndarray) -> float:
  """Std of DDIM(eta=0) samples on Gaussian data: each step is affine in x, so track its slope."""
  abar_prev = np.append(1.0, abar[:-1])
  g = 1.0  # d x / d x_T
  for a, ap in zip(abar[::-1], abar_prev[::-1]):
    eps_g = np.sqrt(1 - a) / (a * S**2 + 1 - a) * g
    g = np.sqrt(ap) * (g - np.sqrt(1 - a) * eps_g) / np.sqrt(a) + np.sqrt(1 - ap) * eps_g
  return g


def test_respaced_ddim_matches_its_closed_form(setup):
  """20 of 200 steps: DDIM shrinks the spread (0.43 instead of 0.5) exactly as the maths says."""
  betas, _, _ = setup
  full = schedules.from_betas(betas)
  short, kept = schedules.respace(betas, 20)
  fn = samplers.respaced_model_fn(exact_eps_fn(full, MU, S), kept)
  x = samplers.ddim_sample(SPEC, short, fn, noise(3), jax.random.PRNGKey(0), eta=0.0)
  want = ddim_std_in_closed_form(np.cumprod(1 - betas)[kept]) * float(noise(3).std())
  np.testing.assert_allclose(float(x.std()), want, rtol=1e-3)
  assert abs(float(x.mean()) - MU) < 0.02


def test_respaced_ddpm_keeps_the_distribution(setup):
  betas, _, _ = setup
  full = schedules.from_betas(betas)
  short, kept = schedules.respace(betas, 100)
  fn = samplers.respaced_model_fn(exact_eps_fn(full, MU, S), kept)
  x = samplers.ddpm_sample(SPEC, short, fn, noise(3), jax.random.PRNGKey(0))
  assert_data_moments(x, tol=0.06)


def test_ddim_encode_then_decode_reconstructs(setup):
  betas, _, _ = setup
  full = schedules.from_betas(betas)
  fn = exact_eps_fn(full, MU, S)
  short = full
  x0 = MU + S * noise(4, 64)
  x_T = jax.jit(lambda x: samplers.ddim_encode(SPEC, short, fn, x))(x0)
  assert abs(float(x_T.std()) - 1.0) < 0.2  # a latent that looks like noise
  back = samplers.ddim_sample(SPEC, short, fn, x_T, jax.random.PRNGKey(0), eta=0.0)
  # Euler steps both ways: the error shrinks with the step size (about 0.08 max at 100 steps).
  assert float(jnp.mean(jnp.abs(back - x0))) < 0.02
  assert float(jnp.max(jnp.abs(back - x0))) < 0.06
