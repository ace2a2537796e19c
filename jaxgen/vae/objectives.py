"""ELBO, VampPrior and importance-weighted likelihood as pure functions of the networks.

The networks arrive as callables: `encode(x, cond) -> (mean, log_var)`,
`decode(z, cond) -> logits`, and for the VampPrior `prior_params() -> (means, log_vars)` [K, d].
"""

import dataclasses
import enum
from typing import Callable

import jax
import jax.numpy as jnp

from jaxgen.vae import distributions as D


class Likelihood(enum.Enum):
  """Decoder likelihood p(x|z)."""

  BERNOULLI = "bernoulli"  # binary (or binarised) pixels
  GAUSSIAN = "gaussian"  # continuous pixels with a fixed variance


@dataclasses.dataclass(frozen=True)
class Networks:
  """The callables an objective needs (closures over parameters)."""

  encode: Callable[[jax.Array, jax.Array | None], tuple[jax.Array, jax.Array]]
  decode: Callable[[jax.Array, jax.Array | None], jax.Array]
  prior_params: Callable[[], tuple[jax.Array, jax.Array]] | None = None  # VampPrior only


def log_likelihood(kind: Likelihood, out: jax.Array, x: jax.Array, obs_log_var: float,
                   batch_dims: int = 1) -> jax.Array:
  """log p(x | decoder output), summed over pixels."""
  if kind is Likelihood.BERNOULLI:
    return D.log_bernoulli(out, x, batch_dims)
  return D.log_normal(x, out, jnp.full_like(out, obs_log_var), batch_dims)


def log_prior(nets: Networks, z: jax.Array) -> jax.Array:
  """log p(z): standard normal, or the VampPrior mixture when `nets.prior_params` is set."""
  if nets.prior_params is None:
    return D.log_standard_normal(z)
  means, log_vars = nets.prior_params()
  return D.log_mixture_of_gaussians(z, means, log_vars)


def negative_elbo(nets: Networks, x: jax.Array, cond: jax.Array | None, rng: jax.Array,
                  kind: Likelihood, obs_log_var: float = 0.0, beta: float = 1.0):
  """-ELBO = E_q[-log p(x|z)] + KL(q(z|x) || p(z)), one reparameterised sample.

  The KL is in closed form for the standard-normal prior and a single-sample Monte Carlo
  estimate (log q - log p) for the VampPrior. Returns (loss [], aux of per-example terms [b]).
  """
  mean, log_var = nets.encode(x, cond)  # [b, d] each
  z = D.reparameterize(rng, mean, log_var)
  recon = -log_likelihood(kind, nets.decode(z, cond), x, obs_log_var)  # [b]
  if nets.prior_params is None:
    kl = D.gaussian_kl_to_standard(mean, log_var)
  else:
    kl = D.log_normal(z, mean, log_var) - log_prior(nets, z)
  loss = jnp.mean(recon + beta * kl)
  return loss, {"recon": recon, "kl": kl, "nelbo": recon + kl}


def importance_weighted_nll(nets: Networks, x: jax.Array, cond: jax.Array | None,
                            rng: jax.Array, kind: Likelihood, num_samples: int,
                            obs_log_var: float = 0.0, chunk: int = 16) -> jax.Array:
  """-log p(x) estimated with K importance samples from q(z|x) (Burda et al. 2016): [b] nats.

  log p(x) ~= logsumexp_k [log p(x|z_k) + log p(z_k) - log q(z_k|x)] - log K; the K samples
  are drawn in chunks inside `lax.map` so memory stays bounded.
  """
  mean, log_var = nets.encode(x, cond)  # [b, d]
  num_chunks = -(-num_samples // chunk)

  def chunk_log_weights(key):  # -> [chunk, b]
    eps = jax.random.normal(key, (chunk,) + mean.shape)
    z = mean + jnp.exp(0.5 * log_var) * eps  # [chunk, b, d]
    flat = z.reshape(-1, z.shape[-1])  # [chunk * b, d]
    rep = None if cond is None else jnp.tile(cond, (chunk, 1))
    out = nets.decode(flat, rep).reshape((chunk,) + x.shape)
    log_px = log_likelihood(kind, out, x[None], obs_log_var, batch_dims=2)  # [chunk, b]
    log_pz = log_prior(nets, flat).reshape(chunk, -1)
    log_qz = D.log_normal(z, mean[None], log_var[None], batch_dims=2)
    return log_px + log_pz - log_qz

  log_w = jax.lax.map(chunk_log_weights, jax.random.split(rng, num_chunks))  # [n, chunk, b]
  log_w = log_w.reshape(-1, x.shape[0])[:num_samples]  # [K, b]
  return -(jax.nn.logsumexp(log_w, axis=0) - jnp.log(num_samples))
