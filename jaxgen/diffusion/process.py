"""The Gaussian diffusion process: q(x_t | x_0), the posterior q(x_{t-1} | x_t, x_0), and p(x_{t-1} | x_t).

Everything here is a pure function of a `Schedule` and arrays. The network never appears: callers
pass its raw output to `p_mean_variance`, so guidance and stop-gradients can be applied first.
"""

import dataclasses
import enum
from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxgen.diffusion.schedules import Schedule, gather


class MeanType(enum.Enum):
  """What the network's mean channels predict."""

  EPSILON = "eps"  # the noise (Ho et al. 2020)
  START_X = "x0"  # the clean image
  VELOCITY = "v"  # v = sqrt(abar) eps - sqrt(1 - abar) x_0 (Salimans & Ho 2022)


class VarType(enum.Enum):
  """How the reverse-process variance is chosen."""

  FIXED_SMALL = "fixed_small"  # posterior variance beta~_t
  FIXED_LARGE = "fixed_large"  # beta_t
  LEARNED_RANGE = "learned_range"  # log-interpolation between the two (Nichol & Dhariwal 2021)


class LossType(enum.Enum):
  """Which training objective."""

  MSE = "mse"  # L_simple
  HYBRID = "hybrid"  # L_simple + lambda * L_vlb with the mean frozen in L_vlb
  KL = "kl"  # the variational bound alone


@dataclasses.dataclass(frozen=True)
class Spec:
  """Static choices of a diffusion model; hashable, so usable as a jit static argument."""

  mean_type: MeanType = MeanType.EPSILON
  var_type: VarType = VarType.FIXED_LARGE
  loss_type: LossType = LossType.MSE
  hybrid_lambda: float = 1e-3
  clip_x0: bool = True  # clip predicted x_0 to [-1, 1] when sampling

  @property
  def output_multiplier(self) -> int:
    """Network output channels per image channel (2 with a learned variance)."""
    return 2 if self.var_type == VarType.LEARNED_RANGE else 1


class MeanVar(NamedTuple):
  """A Gaussian over x_{t-1} plus the model's implied predictions of x_0 and eps."""

  mean: jax.Array
  variance: jax.Array
  log_variance: jax.Array
  pred_x0: jax.Array
  pred_eps: jax.Array


def q_mean_variance(sched: Schedule, x0: jax.Array, t: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
  """Mean, variance and log-variance of q(x_t | x_0) = N(sqrt(abar_t) x_0, (1 - abar_t) I)."""
  mean = gather(sched.sqrt_alphas_cumprod, t, x0.ndim) * x0
  # Squaring the float64-derived root keeps 1 - abar accurate at small t, unlike 1 - abar in float32.
  var = gather(jnp.square(sched.sqrt_one_minus_alphas_cumprod), t, x0.ndim)
  return mean, var, jnp.log(var)


def q_sample(sched: Schedule, x0: jax.Array, t: jax.Array, noise: jax.Array) -> jax.Array:
  """Draws x_t ~ q(x_t | x_0) in closed form (Ho et al. eq. 4); x0, noise [b, ...], t int [b]."""
  return (gather(sched.sqrt_alphas_cumprod, t, x0.ndim) * x0
          + gather(sched.sqrt_one_minus_alphas_cumprod, t, x0.ndim) * noise)


def q_posterior(sched: Schedule, x0: jax.Array, xt: jax.Array, t: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
  """Mean, variance and clipped log-variance of q(x_{t-1} | x_t, x_0) (Ho et al. eqs. 6-7)."""
  mean = (gather(sched.posterior_mean_coef1, t, xt.ndim) * x0
          + gather(sched.posterior_mean_coef2, t, xt.ndim) * xt)
  var = gather(sched.posterior_variance, t, xt.ndim)
  log_var = gather(sched.posterior_log_variance_clipped, t, xt.ndim)
  return mean, var, log_var


def x0_from_eps(sched: Schedule, xt: jax.Array, t: jax.Array, eps: jax.Array) -> jax.Array:
  """x_0 = (x_t - sqrt(1 - abar) eps) / sqrt(abar)."""
  return (gather(sched.sqrt_recip_alphas_cumprod, t, xt.ndim) * xt
          - gather(sched.sqrt_recipm1_alphas_cumprod, t, xt.ndim) * eps)


def eps_from_x0(sched: Schedule, xt: jax.Array, t: jax.Array, x0: jax.Array) -> jax.Array:
  """eps = (x_t / sqrt(abar) - x_0) / sqrt(1/abar - 1)."""
  return ((gather(sched.sqrt_recip_alphas_cumprod, t, xt.ndim) * xt - x0)
          / gather(sched.sqrt_recipm1_alphas_cumprod, t, xt.ndim))


def velocity(sched: Schedule, x0: jax.Array, t: jax.Array, noise: jax.Array) -> jax.Array:
  """The v-prediction target sqrt(abar) eps - sqrt(1 - abar) x_0."""
  return (gather(sched.sqrt_alphas_cumprod, t, x0.ndim) * noise
          - gather(sched.sqrt_one_minus_alphas_cumprod, t, x0.ndim) * x0)


def split_output(spec: Spec, model_out: jax.Array) -> tuple[jax.Array, jax.Array | None]:
  """Splits [b, h, w, k*c] network output into (mean channels, variance channels or None)."""
  if spec.output_multiplier == 1:
    return model_out, None
  return tuple(jnp.split(model_out, 2, axis=-1))  # type: ignore[return-value]


def p_mean_variance(spec: Spec, sched: Schedule, model_out: jax.Array, xt: jax.Array, t: jax.Array,
                    clip: bool = False) -> MeanVar:
  """p(x_{t-1} | x_t) from the network output (Nichol & Dhariwal sec. 3.1 for learned variance).

  Args:
    spec: mean and variance parameterisation.
    sched: the (possibly respaced) schedule that `t` indexes.
    model_out: network output [b, h, w, c * spec.output_multiplier].
    xt: noisy input [b, h, w, c].
    t: int [b] indices into `sched`.
    clip: clip the predicted x_0 to [-1, 1] (sampling only; the loss never clips).
  """
  mean_out, var_out = split_output(spec, model_out)
  nd = xt.ndim
  if spec.var_type == VarType.LEARNED_RANGE:
    # The network gives v in [-1, 1]; the log-variance interpolates log beta~_t and log beta_t.
    frac = (var_out + 1.0) / 2.0
    min_log = gather(sched.posterior_log_variance_clipped, t, nd)
    max_log = gather(jnp.log(sched.betas), t, nd)
    log_var = frac * max_log + (1.0 - frac) * min_log
  elif spec.var_type == VarType.FIXED_LARGE:
    # beta_t, except at t=0 where beta~_1 keeps the decoder's likelihood sensible (improved DDPM).
    large = jnp.concatenate([sched.posterior_variance[1:2], sched.betas[1:]])
    log_var = jnp.broadcast_to(gather(jnp.log(large), t, nd), xt.shape)
  else:
    log_var = jnp.broadcast_to(gather(sched.posterior_log_variance_clipped, t, nd), xt.shape)

  if spec.mean_type == MeanType.EPSILON:
    pred_x0 = x0_from_eps(sched, xt, t, mean_out)
  elif spec.mean_type == MeanType.START_X:
    pred_x0 = mean_out
  else:  # x_0 = sqrt(abar) x_t - sqrt(1 - abar) v
    pred_x0 = (gather(sched.sqrt_alphas_cumprod, t, nd) * xt
               - gather(sched.sqrt_one_minus_alphas_cumprod, t, nd) * mean_out)
  if clip:
    pred_x0 = jnp.clip(pred_x0, -1.0, 1.0)
  # With clipping, eps is re-derived from the clipped x_0 so DDIM stays self-consistent.
  pred_eps = (mean_out if spec.mean_type == MeanType.EPSILON and not clip
              else eps_from_x0(sched, xt, t, pred_x0))
  mean, _, _ = q_posterior(sched, pred_x0, xt, t)
  return MeanVar(mean, jnp.exp(log_var), log_var, pred_x0, pred_eps)
