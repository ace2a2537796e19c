"""Training losses and the variational bound."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.special import ndtr

from jaxgen.diffusion import losses, process, schedules
from jaxgen.diffusion.process import LossType, MeanType, Spec, VarType
from gaussian_data import exact_eps_fn


@pytest.fixture(scope="module")
def sched():
  return schedules.make_schedule("linear", 100)


def grid_images(key, shape):
  """Images on the 256-level grid in [-1, 1], as the data pipeline produces them."""
  return jax.random.randint(key, shape, 0, 256).astype(jnp.float32) / 127.5 - 1.0


def test_discretized_likelihood_is_a_distribution():
  levels = jnp.arange(256) / 127.5 - 1.0
  for mean, log_scale in [(0.0, -1.0), (0.97, -4.0), (-0.3, 0.5)]:
    p = jnp.exp(losses.discretized_gaussian_log_likelihood(levels, mean, jnp.float32(log_scale)))
    np.testing.assert_allclose(float(p.sum()), 1.0, atol=1e-4)


def test_kl_is_zero_for_the_true_posterior(sched):
  x0 = grid_images(jax.random.PRNGKey(0), (3, 4, 4, 1))
  t = jnp.array([5, 50, 99])
  xt = process.q_sample(sched, x0, t, jax.random.normal(jax.random.PRNGKey(1), x0.shape))
  spec = Spec(mean_type=MeanType.START_X, var_type=VarType.FIXED_SMALL)
  np.testing.assert_allclose(losses.vlb_term(spec, sched, x0, x0, xt, t), 0.0, atol=1e-5)


@pytest.mark.parametrize("var_type", [VarType.FIXED_SMALL, VarType.FIXED_LARGE, VarType.LEARNED_RANGE])
def test_full_vlb_terms_nonnegative_and_sum(sched, var_type):
  spec = Spec(var_type=var_type)
  eps_fn = exact_eps_fn(sched, 0.0, 0.5)
  # A learned variance channel of 0 sits halfway (in log space) between beta~ and beta.
  fn = eps_fn if var_type != VarType.LEARNED_RANGE else (
      lambda x, t: jnp.concatenate([eps_fn(x, t), jnp.zeros_like(x)], -1))
  x0 = jnp.clip(grid_images(jax.random.PRNGKey(2), (4, 4, 4, 1)) * 0.5, -1, 1)
  out = jax.jit(lambda x: losses.full_vlb(spec, sched, fn, x, jax.random.PRNGKey(3)))(x0)
  assert out["vb"].shape == (4, 100)
  assert np.all(np.asarray(out["vb"]) >= -1e-6) and np.all(np.asarray(out["prior_bpd"]) >= 0)
  np.testing.assert_allclose(out["total_bpd"], out["vb"].sum(1) + out["prior_bpd"], rtol=1e-5)


def bound_in_closed_form(betas: np.ndarray, x0: np.ndarray, delta: float, var_type: VarType):
  """(vb [b, T], prior [b]) in bits/dim, in float64 numpy, of the model whose eps is the true
  noise plus `delta`, on images x0 [b, h, w, c].

  Then pred_x0 = x0 - sqrt(1/abar - 1) delta whatever the noise, so p(x_{t-1} | x_t) misses the
  posterior mean by d_t = coef1_t sqrt(1/abar_t - 1) delta and every term is a closed form:
  KL of two Gaussians at t >= 1, the binned Gaussian around x0 - sqrt(1/abar_0 - 1) delta at
  t = 0, and KL(N(sqrt(abar_T) x0, 1 - abar_T) || N(0, 1)) for L_T.
  """
  abar = np.cumprod(1.0 - betas)
  abar_prev = np.append(1.0, abar[:-1])
  post_var = betas * (1.0 - abar_prev) / (1.0 - abar)
  log_q = np.log(np.append(post_var[1], post_var[1:]))  # [T], post_var[0] = 0 is clipped
  log_p = {VarType.FIXED_SMALL: log_q,
           VarType.FIXED_LARGE: np.log(np.append(post_var[1], betas[1:])),
           VarType.LEARNED_RANGE: 0.5 * (np.log(betas) + log_q)}[var_type]  # v = 0: halfway
  miss = betas * np.sqrt(abar_prev) / (1.0 - abar) * np.sqrt(1.0 / abar - 1.0) * delta  # [T]
  kl = 0.5 * (-1.0 + log_p - log_q + np.exp(log_q - log_p) + miss**2 * np.exp(-log_p))  # [T]
  # Decoder: the mass of x0's bin (edge bins open to -inf / +inf) under N(mean, sigma^2).
  mean = x0 - np.sqrt(1.0 / abar[0] - 1.0) * delta
  sigma = np.exp(0.5 * log_p[0])
  upper, lower = (x0 - mean + 1 / 255) / sigma, (x0 - mean - 1 / 255) / sigma
  mass = np.where(x0 == -1.0, ndtr(upper),
                  np.where(x0 == 1.0, ndtr(-lower), ndtr(upper) - ndtr(lower)))
  decoder = -np.log(mass).mean(axis=(1, 2, 3))  # [b]
  vb = np.concatenate([decoder[:, None], np.broadcast_to(kl[1:], (len(x0), len(betas) - 1))], 1)
  a_T = abar[-1]
  prior = 0.5 * (-1.0 - np.log(1.0 - a_T) + (1.0 - a_T) + a_T * x0**2).mean(axis=(1, 2, 3))
  return vb / math.log(2.0), prior / math.log(2.0)


@pytest.mark.parametrize("delta", [0.0, 0.05])
@pytest.mark.parametrize("var_type", [VarType.FIXED_SMALL, VarType.FIXED_LARGE, VarType.LEARNED_RANGE])
def test_full_vlb_equals_the_closed_form_of_a_known_error(var_type, delta):
  """Every term of the bound, the prior and the total against `bound_in_closed_form`."""
  # The first 30 of 100 linear steps end at abar_T = 0.41, where L_T is a tenth of a bit, not
  # the 1e-5 bits at T = 100 that would hide a wrong prior term.
  betas = schedules.linear_betas(100)[:30]
  sched = schedules.from_betas(betas)
  x0 = np.array(grid_images(jax.random.PRNGKey(4), (4, 4, 4, 1)))  # [b, h, w, c], writable
  x0[0, 0, :2, 0], x0[1, 1, :2, 0] = -1.0, 1.0  # the open-ended edge bins too

  def fn(x, t):
    # Knows x0 (as the exact eps-network of data that is the single point x0 does): the noise
    # drawn for this x_t, plus a known error.
    a = sched.alphas_cumprod[t][:, None, None, None]
    eps = (x - jnp.sqrt(a) * x0) / jnp.sqrt(1.0 - a) + delta
    return eps if var_type != VarType.LEARNED_RANGE else jnp.concatenate(
        [eps, jnp.zeros_like(x)], -1)

  out = losses.full_vlb(Spec(var_type=var_type), sched, fn, jnp.asarray(x0), jax.random.PRNGKey(5))
  vb, prior = bound_in_closed_form(betas, x0.astype(np.float64), delta, var_type)
  np.testing.assert_allclose(out["prior_bpd"], prior, rtol=1e-5)
  np.testing.assert_allclose(out["vb"], vb, rtol=1e-4, atol=1e-6)
  np.testing.assert_allclose(out["total_bpd"], vb.sum(1) + prior, rtol=1e-5)


def test_hybrid_vlb_trains_only_the_variance(sched):
  """The stop-gradient: L_vlb in the hybrid loss changes no gradient of the mean channels."""
  x0 = grid_images(jax.random.PRNGKey(0), (8, 4, 4, 1))

  def loss(params, loss_type):
    a, b = params
    fn = lambda x, t: jnp.concatenate([a * x, jnp.tanh(b) * jnp.ones_like(x)], -1)
    spec = Spec(var_type=VarType.LEARNED_RANGE, loss_type=loss_type)
    return losses.training_loss(spec, sched, fn, x0, jax.random.PRNGKey(1))[0]

  params = (jnp.float32(0.7), jnp.float32(0.3))
  grad = jax.jit(jax.grad(loss), static_argnums=1)
  g_hybrid = grad(params, LossType.HYBRID)
  g_mse = grad(params, LossType.MSE)
  np.testing.assert_allclose(g_hybrid[0], g_mse[0], rtol=1e-6)
  assert float(g_mse[1]) == 0.0 and abs(float(g_hybrid[1])) > 0
  g_kl = grad(params, LossType.KL)
  assert abs(float(g_kl[0])) > 0  # the plain bound does train the mean


@pytest.mark.parametrize("mean_type", list(MeanType))
def test_mse_is_zero_for_the_exact_target(sched, mean_type):
  x0 = grid_images(jax.random.PRNGKey(0), (4, 4, 4, 1))
  rng = jax.random.PRNGKey(1)
  # Rebuild the loss's own draws of t and noise to hand the model its exact target.
  t_rng, n_rng = jax.random.split(rng)
  t = jax.random.randint(t_rng, (4,), 0, 100)
  noise = jax.random.normal(n_rng, x0.shape)
  target = losses.mse_target(Spec(mean_type=mean_type), sched, x0, t, noise)
  _, aux = losses.training_loss(Spec(mean_type=mean_type), sched, lambda x, tt: target, x0, rng)
  assert float(aux["mse"]) < 1e-10
