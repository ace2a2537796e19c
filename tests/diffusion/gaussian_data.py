"""Analytic "networks" for data x_0 ~ N(mu, s^2 I): exact eps-predictors and scores.

With x_t = sqrt(a) x_0 + sqrt(1 - a) eps, (x_t, eps) are jointly Gaussian, so
E[eps | x_t] = sqrt(1 - a) (x_t - sqrt(a) mu) / (a s^2 + 1 - a): the optimal eps-network.
"""

import jax
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


def mixture_parts(sched: Schedule, means: jnp.ndarray, s: float):
  """Exact networks for x_0 ~ (1/K) sum_y N(means[y], s^2 I), one Gaussian per class y.

  Under x_t = sqrt(a) x_0 + sqrt(1 - a) eps, p(x_t | y) = N(sqrt(a) means[y], (a s^2 + 1 - a) I).
  Returns (cond_eps, uncond_eps, logits):
    cond_eps(x, t, y) = E[eps | x_t, y], the ideal class-conditional eps-network;
    uncond_eps(x, t) = sum_y p(y | x_t) E[eps | x_t, y], the ideal unconditional one;
    logits(x, t) = log p(x_t | y) up to a constant, the ideal noise-aware classifier [b, K].
  """
  means = jnp.asarray(means, jnp.float32)  # [K]

  def level(x, t):
    a = gather(sched.alphas_cumprod, t, x.ndim)
    return a, a * s**2 + 1.0 - a

  def cond_eps(x, t, y):
    a, var = level(x, t)
    mu = means[y].reshape((-1,) + (1,) * (x.ndim - 1))
    return jnp.sqrt(1.0 - a) * (x - jnp.sqrt(a) * mu) / var

  def logits(x, t):
    a, var = level(x, t)
    diff = x[:, None] - jnp.sqrt(a)[:, None] * means.reshape((1, -1) + (1,) * (x.ndim - 1))
    return -0.5 * jnp.sum(diff.reshape(diff.shape[:2] + (-1,)) ** 2, -1) / var.reshape(-1, 1)

  def uncond_eps(x, t):
    p = jax.nn.softmax(logits(x, t))  # [b, K]
    each = jnp.stack([cond_eps(x, t, jnp.full(x.shape[:1], k)) for k in range(len(means))], 1)
    return jnp.einsum("bk,bk...->b...", p, each)

  return cond_eps, uncond_eps, logits
