"""Log-densities, the reparameterisation trick and the closed-form Gaussian KL.

All log-densities are in nats and summed over every non-batch axis.
"""

import math

import jax
import jax.numpy as jnp

_LOG_2PI = math.log(2.0 * math.pi)


def _sum_event(x: jax.Array, batch_dims: int) -> jax.Array:
  return jnp.sum(x, axis=tuple(range(batch_dims, x.ndim)))


def reparameterize(rng: jax.Array, mean: jax.Array, log_var: jax.Array) -> jax.Array:
  """z = mean + sigma * eps with eps ~ N(0, I): differentiable in mean and log_var."""
  return mean + jnp.exp(0.5 * log_var) * jax.random.normal(rng, mean.shape, mean.dtype)


def gaussian_kl_to_standard(mean: jax.Array, log_var: jax.Array) -> jax.Array:
  """KL(N(mean, exp(log_var)) || N(0, I)) in closed form: [b, d] -> [b]."""
  return 0.5 * jnp.sum(jnp.exp(log_var) + mean**2 - 1.0 - log_var, axis=-1)


def log_normal(x: jax.Array, mean: jax.Array, log_var: jax.Array, batch_dims: int = 1) -> jax.Array:
  """log N(x; mean, diag(exp(log_var))), summed over the event axes after `batch_dims`."""
  log_p = -0.5 * (_LOG_2PI + log_var + (x - mean) ** 2 * jnp.exp(-log_var))
  return _sum_event(log_p, batch_dims)


def log_standard_normal(z: jax.Array, batch_dims: int = 1) -> jax.Array:
  """log N(z; 0, I) summed over the event axes."""
  return _sum_event(-0.5 * (_LOG_2PI + z**2), batch_dims)


def log_bernoulli(logits: jax.Array, x: jax.Array, batch_dims: int = 1) -> jax.Array:
  """log p(x | logits) for x in {0, 1} (or [0, 1] as soft targets), summed over event axes."""
  return _sum_event(x * logits - jax.nn.softplus(logits), batch_dims)


def log_mixture_of_gaussians(z: jax.Array, means: jax.Array, log_vars: jax.Array) -> jax.Array:
  """log (1/K) sum_k N(z; means[k], exp(log_vars[k])): z [b, d], means [K, d] -> [b].

  This is the VampPrior's density when means/log_vars are the encoder at the pseudo-inputs.
  """
  per_component = log_normal(z[:, None, :], means[None], log_vars[None], batch_dims=2)  # [b, K]
  return jax.nn.logsumexp(per_component, axis=1) - jnp.log(means.shape[0])
