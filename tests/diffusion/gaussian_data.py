"""Analytic "networks" for data x_0 ~ N(mu, s^2 I): exact eps-predictors and scores.

With x_t = sqrt(a) x_0 + sqrt(1 - a) eps, (x_t, eps) are jointly Gaussian, so
E[eps | x_t] = sqrt(1 - a) (x_t - sqrt(a) mu) / (a s^2 + 1 - a): the optimal eps-network.
"""

import jax.numpy as jnp

from jaxgen.diffusion.schedules import Schedule, gather


def exact_eps_fn(sched: Schedule, mu: float, s: float):
  """The Bayes-optimal eps-prediction network (x_t, t) -> E[eps | x_t] under `sched`."""

  def fn(x, t):
    a = gather(sched.alphas_cumprod, t, x.ndim)
    return jnp.sqrt(1.0 - a) * (x - jnp.sqrt(a) * mu) / (a * s**2 + 1.0 - a)

  return fn


def exact_sigma_score_fn(sigmas, mu: float, s: float):
  """sigma_i * score of N(mu, s^2) convolved with N(0, sigma_i^2): the ideal NCSN output."""

  def fn(x, i):
    sig = sigmas[i].reshape((-1,) + (1,) * (x.ndim - 1))
    return -sig * (x - mu) / (s**2 + sig**2)

  return fn
