"""Samplers on Gaussian data, where the exact eps-network is known in closed form."""

import dataclasses

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


# 20 steps from beta 0.005 to 0.5 (abar_T = 0.002); linear_betas(20) itself ends at beta = 1.
TOY_BETAS = schedules.linear_betas(20, beta_end=0.01)


def toy_eps(x, t):
  """A fixed linear eps-"network" (x_t, t) -> 0.3 x_t; its pred_x0 leaves [-1, 1] at large t."""
  del t
  return 0.3 * x


@pytest.mark.parametrize("clip", [False, True])
def test_ddim_with_eta_one_is_ancestral_sampling_with_the_posterior_variance(clip):
  """eta = 1 on the full schedule: sigma_t^2 = (1 - abar_prev) / (1 - abar) beta_t = beta~_t, and
  sqrt(abar_prev) x0 + sqrt(1 - abar_prev - sigma_t^2) eps is the posterior mean, so every DDIM
  step is the fixed_small DDPM step. Both samplers draw step i's noise from fold_in(rng, i), so
  from the same x_T and rng the two chains coincide."""
  sched = schedules.from_betas(TOY_BETAS)
  spec = Spec(var_type=VarType.FIXED_SMALL, clip_x0=clip)
  x_T, rng = noise(5, 256), jax.random.PRNGKey(6)
  ddim = jax.jit(lambda eta: samplers.ddim_sample(spec, sched, toy_eps, x_T, rng, eta=eta))
  ancestral = samplers.ddpm_sample(spec, sched, toy_eps, x_T, rng)
  np.testing.assert_allclose(ddim(1.0), ancestral, rtol=1e-5, atol=1e-5, equal_nan=False)
  # What the comparison tells apart: a smaller eta, or the larger DDPM variance beta_t.
  assert float(jnp.max(jnp.abs(ddim(0.5) - ancestral))) > 0.01
  large = samplers.ddpm_sample(dataclasses.replace(spec, var_type=VarType.FIXED_LARGE), sched,
                               toy_eps, x_T, rng)
  assert float(jnp.max(jnp.abs(ddim(1.0) - large))) > 0.01


def test_ddim_with_eta_between_zero_and_one_has_the_closed_form_spread():
  """eta = 0.5, unclipped, with the linear toy model: each step is x <- A_t x + sigma_t z, so
  x_0 = G x_T + noise with G = prod A_t (exact, per chain) and Var(x_0 | x_T) = sum over steps
  of sigma_t^2 times the square of the later A's (checked on 32k draws)."""
  betas = TOY_BETAS
  sched = schedules.from_betas(betas)
  spec = Spec(var_type=VarType.FIXED_SMALL, clip_x0=False)
  eta = 0.5
  abar = np.cumprod(1.0 - betas)
  abar_prev = np.append(1.0, abar[:-1])
  sigma = eta * np.sqrt((1 - abar_prev) / (1 - abar) * (1 - abar / abar_prev))  # [T]
  x0_slope = (1.0 - np.sqrt(1 - abar) * 0.3) / np.sqrt(abar)  # pred_x0 = x0_slope * x_t
  a = np.sqrt(abar_prev) * x0_slope + np.sqrt(1 - abar_prev - sigma**2) * 0.3  # [T]
  gain, var = 1.0, 0.0
  for t in range(len(betas) - 1, -1, -1):  # x_T -> x_0, as the sampler goes
    gain, var = a[t] * gain, a[t] ** 2 * var + sigma[t] ** 2
  run = jax.jit(lambda x, rng: samplers.ddim_sample(spec, sched, toy_eps, x, rng, eta=eta))
  rng = jax.random.PRNGKey(7)
  x_T = noise(8, 8192)  # [8192, 2, 2, 1]: 32k independent chains
  # Linear in x_T for a fixed rng: the slope is G exactly.
  slope = run(x_T + 1.0, rng) - run(x_T, rng)
  np.testing.assert_allclose(slope, gain, rtol=1e-4, equal_nan=False)
  spread = run(jnp.zeros_like(x_T), rng)  # the noise alone: N(0, var)
  assert abs(float(spread.mean())) < 4 * np.sqrt(var / spread.size)
  np.testing.assert_allclose(float(jnp.var(spread)), var, rtol=0.04)  # 5 sd of the estimate
