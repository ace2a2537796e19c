"""Training losses and the variational bound, in bits per dimension, for a Gaussian diffusion.

`model_fn(x_t, t) -> output` is the network with its parameters, labels and dropout rng closed over.
Images are in [-1, 1], quantised to 256 levels (the decoder's bin width is 2 / 255).
"""

import math
from typing import Callable

import jax
import jax.numpy as jnp
from jax.scipy.special import ndtr

from jaxgen.diffusion import process
from jaxgen.diffusion.process import LossType, MeanType, Spec, VarType
from jaxgen.diffusion.schedules import Schedule

ModelFn = Callable[[jax.Array, jax.Array], jax.Array]


def mean_flat(x: jax.Array) -> jax.Array:
  """Mean over every axis but the batch axis: [b, ...] -> [b]."""
  return jnp.mean(x, axis=tuple(range(1, x.ndim)))


def normal_kl(mean1: jax.Array, logvar1: jax.Array, mean2: jax.Array, logvar2: jax.Array) -> jax.Array:
  """KL(N(mean1, exp(logvar1)) || N(mean2, exp(logvar2))), elementwise, in nats."""
  return 0.5 * (-1.0 + logvar2 - logvar1 + jnp.exp(logvar1 - logvar2)
                + jnp.square(mean1 - mean2) * jnp.exp(-logvar2))


def discretized_gaussian_log_likelihood(x: jax.Array, mean: jax.Array, log_scale: jax.Array) -> jax.Array:
  """log P(x) of pixels x in [-1, 1] on 256 bins under N(mean, exp(log_scale)^2) (Ho et al. eq. 13).

  The edge bins extend to -inf and +inf, so the 256 probabilities sum to one.
  """
  centered = x - mean
  inv_std = jnp.exp(-log_scale)
  upper = inv_std * (centered + 1.0 / 255.0)
  lower = inv_std * (centered - 1.0 / 255.0)
  # Phi(upper) - Phi(lower) loses all precision when both are near 1: use the mirrored tails there.
  delta = jnp.where(lower > 0, ndtr(-lower) - ndtr(-upper), ndtr(upper) - ndtr(lower))
  log_mid = jnp.log(jnp.maximum(delta, 1e-12))
  log_first = jax.scipy.stats.norm.logcdf(upper)  # x = -1: mass of (-inf, -1 + 1/255]
  log_last = jax.scipy.stats.norm.logcdf(-lower)  # x = +1: mass of [1 - 1/255, inf)
  return jnp.where(x < -0.999, log_first, jnp.where(x > 0.999, log_last, log_mid))


def vlb_term(spec: Spec, sched: Schedule, model_out: jax.Array, x0: jax.Array, xt: jax.Array,
             t: jax.Array) -> jax.Array:
  """L_t of the bound in bits/dim, [b]: KL(q(x_{t-1}|x_t,x_0) || p(x_{t-1}|x_t)), or the decoder NLL at t=0."""
  true_mean, _, true_log_var = process.q_posterior(sched, x0, xt, t)
  p = process.p_mean_variance(spec, sched, model_out, xt, t)
  kl = mean_flat(normal_kl(true_mean, true_log_var, p.mean, p.log_variance)) / math.log(2.0)
  nll = -mean_flat(discretized_gaussian_log_likelihood(x0, p.mean, 0.5 * p.log_variance)) / math.log(2.0)
  return jnp.where(t == 0, nll, kl)


def prior_bpd(sched: Schedule, x0: jax.Array) -> jax.Array:
  """L_T = KL(q(x_T | x_0) || N(0, I)) in bits/dim, [b]; no parameters, so never trained."""
  t = jnp.full((x0.shape[0],), sched.num_timesteps - 1, jnp.int32)
  mean, _, log_var = process.q_mean_variance(sched, x0, t)
  return mean_flat(normal_kl(mean, log_var, 0.0, 0.0)) / math.log(2.0)


def mse_target(spec: Spec, sched: Schedule, x0: jax.Array, t: jax.Array, noise: jax.Array) -> jax.Array:
  """What the mean channels regress onto: eps, x_0 or v."""
  if spec.mean_type == MeanType.EPSILON:
    return noise
  if spec.mean_type == MeanType.START_X:
    return x0
  return process.velocity(sched, x0, t, noise)


def training_loss(spec: Spec, sched: Schedule, model_fn: ModelFn, x0: jax.Array,
                  rng: jax.Array) -> tuple[jax.Array, dict[str, jax.Array]]:
  """One Monte-Carlo estimate of the training objective at uniformly drawn t.

  MSE is L_simple. HYBRID adds lambda * T * L_t (an unbiased estimate of lambda * L_vlb) with the
  mean channels' gradient stopped, so L_vlb only trains the variance (Nichol & Dhariwal sec. 3.1).
  KL trains on T * L_t alone.

  Returns:
    (scalar loss, aux) where aux holds batch means of "mse", "vb" (T * L_t, bits/dim) and "loss".
  """
  b = x0.shape[0]
  t_rng, n_rng = jax.random.split(rng)
  t = jax.random.randint(t_rng, (b,), 0, sched.num_timesteps)  # [b]
  noise = jax.random.normal(n_rng, x0.shape, x0.dtype)  # [b, h, w, c]
  xt = process.q_sample(sched, x0, t, noise)
  out = model_fn(xt, t)  # [b, h, w, c * k]
  mean_out, var_out = process.split_output(spec, out)
  mse = mean_flat(jnp.square(mse_target(spec, sched, x0, t, noise) - mean_out))  # [b]
  aux = {"mse": jnp.mean(mse)}
  T = sched.num_timesteps
  if spec.loss_type == LossType.MSE:
    loss = mse
  elif spec.loss_type == LossType.HYBRID:
    if spec.var_type != VarType.LEARNED_RANGE:
      raise ValueError("the hybrid loss needs a learned variance (VarType.LEARNED_RANGE)")
    frozen = jnp.concatenate([jax.lax.stop_gradient(mean_out), var_out], axis=-1)
    vb = T * vlb_term(spec, sched, frozen, x0, xt, t)
    loss = mse + spec.hybrid_lambda * vb
    aux["vb"] = jnp.mean(vb)
  else:
    vb = T * vlb_term(spec, sched, out, x0, xt, t)
    loss = vb
    aux["vb"] = jnp.mean(vb)
  aux["loss"] = jnp.mean(loss)
  return aux["loss"], aux


def full_vlb(spec: Spec, sched: Schedule, model_fn: ModelFn, x0: jax.Array,
             rng: jax.Array) -> dict[str, jax.Array]:
  """The whole variational bound, every timestep, as one `lax.scan` over t.

  Returns:
    "total_bpd" [b] = sum_t L_t + L_T, the NLL upper bound in bits/dim; "prior_bpd" [b];
    "vb" [b, T] the terms L_t; "mse" [b, T] the eps error at each t.
  """
  b = x0.shape[0]

  def body(_, t_scalar):
    t = jnp.full((b,), t_scalar, jnp.int32)
    noise = jax.random.normal(jax.random.fold_in(rng, t_scalar), x0.shape, x0.dtype)
    xt = process.q_sample(sched, x0, t, noise)
    out = model_fn(xt, t)
    vb = vlb_term(spec, sched, out, x0, xt, t)  # [b]
    pred_eps = process.p_mean_variance(spec, sched, out, xt, t).pred_eps
    return None, (vb, mean_flat(jnp.square(pred_eps - noise)))

  _, (vb, mse) = jax.lax.scan(body, None, jnp.arange(sched.num_timesteps - 1, -1, -1))
  vb, mse = vb[::-1].T, mse[::-1].T  # [b, T], ordered by t
  prior = prior_bpd(sched, x0)
  return {"total_bpd": jnp.sum(vb, axis=1) + prior, "prior_bpd": prior, "vb": vb, "mse": mse}
