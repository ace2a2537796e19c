"""q(x_t | x_0), the posterior and p(x_{t-1} | x_t) against iteration, formulas and Bayes' rule."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.diffusion import process, schedules
from jaxgen.diffusion.process import MeanType, Spec, VarType


@pytest.fixture(scope="module")
def sched():
  return schedules.make_schedule("linear", 100)


def test_q_sample_matches_iterated_one_step_kernel(sched):
  """x_t = sqrt(1 - beta_t) x_{t-1} + sqrt(beta_t) z, iterated, has the closed-form moments."""
  x0 = jnp.array([-0.8, 0.1, 0.9])
  t = jnp.array([0, 30, 99])
  betas = np.asarray(sched.betas, np.float64)
  # Exact moments of the iterated kernel, in float64.
  mean, var = np.asarray(x0, np.float64), np.zeros(3)
  means, variances = [], []
  for b in betas:
    mean, var = np.sqrt(1 - b) * mean, (1 - b) * var + b
    means.append(mean), variances.append(var)
  means, variances = np.array(means), np.array(variances)
  m, v, _ = process.q_mean_variance(sched, x0[None].repeat(3, 0), t)
  np.testing.assert_allclose(np.diag(np.asarray(m)), means[t, np.arange(3)], rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(np.asarray(v)[:, 0], variances[t, 0], rtol=1e-5)

  # Monte Carlo: run the chain on 20,000 copies and compare with q_sample's distribution.
  n = 20000
  def step(x, inp):
    b, key = inp
    x = jnp.sqrt(1 - b) * x + jnp.sqrt(b) * jax.random.normal(key, x.shape)
    return x, x
  keys = jax.random.split(jax.random.PRNGKey(0), sched.num_timesteps)
  _, xs = jax.lax.scan(step, jnp.broadcast_to(x0, (n, 3)), (sched.betas, keys))  # [T, n, 3]
  for i, tt in enumerate(np.asarray(t)):
    direct = process.q_sample(sched, jnp.full((n, 1), x0[i]), jnp.full((n,), tt),
                              jax.random.normal(jax.random.PRNGKey(1), (n, 1)))
    assert abs(float(xs[tt, :, i].mean()) - float(direct.mean())) < 0.03
    assert abs(float(xs[tt, :, i].var()) - float(direct.var())) < 0.03


def test_posterior_matches_formula_and_bayes_rule(sched):
  x0, xt, t = 0.4, -0.3, 40
  betas = np.asarray(sched.betas, np.float64)
  abar = np.cumprod(1 - betas)
  b, a_prev, a = betas[t], abar[t - 1], abar[t]
  mean, var, log_var = process.q_posterior(sched, jnp.array([x0]), jnp.array([xt]), jnp.array([t]))
  # Ho et al. eq. 7.
  want_mean = np.sqrt(a_prev) * b / (1 - a) * x0 + np.sqrt(1 - b) * (1 - a_prev) / (1 - a) * xt
  want_var = (1 - a_prev) / (1 - a) * b
  np.testing.assert_allclose(float(mean[0]), want_mean, rtol=1e-5)
  np.testing.assert_allclose(float(var[0]), want_var, rtol=1e-5)
  np.testing.assert_allclose(float(log_var[0]), np.log(want_var), rtol=1e-5)
  # Bayes: q(x_{t-1} | x_t, x_0) is proportional to q(x_t | x_{t-1}) q(x_{t-1} | x_0), on a grid.
  grid = np.linspace(-3, 3, 200001)
  log_p = (-(xt - np.sqrt(1 - b) * grid) ** 2 / (2 * b)
           - (grid - np.sqrt(a_prev) * x0) ** 2 / (2 * (1 - a_prev)))
  p = np.exp(log_p - log_p.max())
  p /= p.sum()
  bayes_mean = np.sum(p * grid)
  np.testing.assert_allclose(float(mean[0]), bayes_mean, rtol=1e-4)
  np.testing.assert_allclose(float(var[0]), np.sum(p * (grid - bayes_mean) ** 2), rtol=1e-3)


@pytest.mark.parametrize("mean_type", list(MeanType))
def test_p_mean_variance_recovers_posterior_from_exact_prediction(sched, mean_type):
  """Given the true eps / x_0 / v, p(x_{t-1} | x_t) has the true posterior mean."""
  key = jax.random.PRNGKey(0)
  x0 = jax.random.uniform(key, (4, 5, 5, 2), minval=-1, maxval=1)
  noise = jax.random.normal(jax.random.PRNGKey(1), x0.shape)
  t = jnp.array([0, 10, 50, 99])
  xt = process.q_sample(sched, x0, t, noise)
  out = {MeanType.EPSILON: noise, MeanType.START_X: x0,
         MeanType.VELOCITY: process.velocity(sched, x0, t, noise)}[mean_type]
  p = process.p_mean_variance(Spec(mean_type=mean_type, var_type=VarType.FIXED_SMALL), sched,
                              out, xt, t)
  want, want_var, _ = process.q_posterior(sched, x0, xt, t)
  np.testing.assert_allclose(p.pred_x0, x0, atol=2e-3)
  np.testing.assert_allclose(p.mean, want, atol=2e-3)
  # At t=0 the posterior variance is 0; the clipped log-variance stands in (improved DDPM).
  np.testing.assert_allclose(p.variance[1:], jnp.broadcast_to(want_var, x0.shape)[1:], rtol=1e-5)


def test_learned_range_interpolates_log_variances(sched):
  spec = Spec(var_type=VarType.LEARNED_RANGE)
  xt = jnp.zeros((2, 3, 3, 1))
  t = jnp.array([20, 20])
  out = jnp.concatenate([xt, jnp.stack([-jnp.ones((3, 3, 1)), jnp.ones((3, 3, 1))])], -1)
  p = process.p_mean_variance(spec, sched, out, xt, t)
  np.testing.assert_allclose(p.log_variance[0], sched.posterior_log_variance_clipped[20], rtol=1e-6)
  np.testing.assert_allclose(p.log_variance[1], jnp.log(sched.betas[20]), rtol=1e-6)
