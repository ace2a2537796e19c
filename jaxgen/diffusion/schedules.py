"""Beta schedules and the quantities derived from them, precomputed once in float64.

A `Schedule` is a frozen pytree of float32 arrays indexed by timestep t in [0, T). Index t holds
the quantities of step t + 1 of the papers (Ho et al. 2020 number steps 1..T), as in
improved-diffusion: alphas_cumprod[0] = 1 - betas[0].
"""

import math

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np


@flax.struct.dataclass
class Schedule:
  """Per-timestep constants of a Gaussian diffusion, each float32 [T]."""

  betas: jax.Array
  alphas_cumprod: jax.Array
  alphas_cumprod_prev: jax.Array
  sqrt_alphas_cumprod: jax.Array
  sqrt_one_minus_alphas_cumprod: jax.Array
  sqrt_recip_alphas_cumprod: jax.Array
  sqrt_recipm1_alphas_cumprod: jax.Array
  # q(x_{t-1} | x_t, x_0) = N(coef1 * x_0 + coef2 * x_t, posterior_variance).
  posterior_variance: jax.Array
  posterior_log_variance_clipped: jax.Array
  posterior_mean_coef1: jax.Array
  posterior_mean_coef2: jax.Array

  @property
  def num_timesteps(self) -> int:
    """T, the number of diffusion steps (a static Python int)."""
    return self.betas.shape[0]


def linear_betas(num_timesteps: int, beta_start: float = 1e-4, beta_end: float = 0.02) -> np.ndarray:
  """DDPM's linear schedule, rescaled so any T gives the same curve as T=1000 (float64 [T])."""
  scale = 1000.0 / num_timesteps
  return np.linspace(scale * beta_start, scale * beta_end, num_timesteps, dtype=np.float64)


def cosine_alpha_bar(u: np.ndarray, s: float = 0.008) -> np.ndarray:
  """Improved DDPM's alpha_bar(t / T) = f(t) / f(0), f(t) = cos^2((t/T + s) / (1 + s) * pi/2)."""
  f = lambda v: np.cos((v + s) / (1.0 + s) * math.pi / 2.0) ** 2
  return f(u) / f(np.zeros_like(u))


def cosine_betas(num_timesteps: int, s: float = 0.008, max_beta: float = 0.999) -> np.ndarray:
  """Nichol & Dhariwal 2021 eq. 17: beta_t = 1 - abar(t)/abar(t-1), clipped at 0.999 (float64 [T])."""
  u = np.arange(num_timesteps + 1, dtype=np.float64) / num_timesteps
  abar = cosine_alpha_bar(u, s)
  # Clipping stops the singularity at t = T where abar -> 0.
  return np.minimum(1.0 - abar[1:] / abar[:-1], max_beta)


def from_betas(betas: np.ndarray) -> Schedule:
  """Derives every schedule constant from betas in float64, then stores them as float32."""
  betas = np.asarray(betas, dtype=np.float64)
  if betas.ndim != 1 or np.any(betas <= 0) or np.any(betas > 1):
    raise ValueError("betas must be a 1-D array in (0, 1]")
  alphas = 1.0 - betas
  abar = np.cumprod(alphas)
  abar_prev = np.append(1.0, abar[:-1])
  post_var = betas * (1.0 - abar_prev) / (1.0 - abar)
  # post_var[0] is 0; the log is clipped to post_var[1], as in improved DDPM, to stay finite.
  post_log_var = np.log(np.append(post_var[1], post_var[1:])) if len(betas) > 1 else np.log(betas)
  consts = dict(
      betas=betas,
      alphas_cumprod=abar,
      alphas_cumprod_prev=abar_prev,
      sqrt_alphas_cumprod=np.sqrt(abar),
      sqrt_one_minus_alphas_cumprod=np.sqrt(1.0 - abar),
      sqrt_recip_alphas_cumprod=np.sqrt(1.0 / abar),
      sqrt_recipm1_alphas_cumprod=np.sqrt(1.0 / abar - 1.0),
      posterior_variance=post_var,
      posterior_log_variance_clipped=post_log_var,
      posterior_mean_coef1=betas * np.sqrt(abar_prev) / (1.0 - abar),
      posterior_mean_coef2=(1.0 - abar_prev) * np.sqrt(alphas) / (1.0 - abar),
  )
  return Schedule(**{k: jnp.asarray(v, jnp.float32) for k, v in consts.items()})


def make_schedule(name: str, num_timesteps: int) -> Schedule:
  """Builds the named schedule ("linear" or "cosine") with T = num_timesteps."""
  if name == "linear":
    return from_betas(linear_betas(num_timesteps))
  if name == "cosine":
    return from_betas(cosine_betas(num_timesteps))
  raise ValueError(f"unknown beta schedule {name!r}; known: linear, cosine")


# How a respaced sampler picks its K of the T timesteps (names as diffusers spells them):
#   linspace   round(linspace(0, T-1, K)): even, first and last step kept (improved DDPM sec. 4);
#   leading    0, T/K, 2T/K, ...: DDIM's "uniform" skip (Song et al. code), never reaches T-1;
#   trailing   T-1, T-1-T/K, ...: keeps the last step, leaves the smallest T/K-1 steps out;
#   quadratic  int(linspace(0, sqrt(0.8 T), K)^2): DDIM's CIFAR-10 choice, dense at small t.
SPACINGS = ("linspace", "leading", "trailing", "quadratic")


def respaced_timesteps(num_timesteps: int, num_steps: int, spacing: str = "linspace") -> np.ndarray:
  """The kept timesteps t_1 < ... < t_K of a T-step schedule, int64 [K'] (K' < K only where a
  spacing rounds two steps onto one, e.g. quadratic at small t); see SPACINGS."""
  if not 1 <= num_steps <= num_timesteps:
    raise ValueError(f"num_steps must be in [1, {num_timesteps}], got {num_steps}")
  T, K = num_timesteps, num_steps
  if spacing == "linspace":
    kept = np.round(np.linspace(0, T - 1, K))
  elif spacing == "leading":
    kept = np.arange(K) * (T // K)
  elif spacing == "trailing":
    kept = np.round(np.arange(T, 0, -T / K)) - 1
  elif spacing == "quadratic":
    kept = np.floor(np.linspace(0, np.sqrt(0.8 * T), K) ** 2)
  else:
    raise ValueError(f"unknown spacing {spacing!r}; known: {', '.join(SPACINGS)}")
  return np.unique(kept.astype(np.int64))


def respace(betas: np.ndarray, num_steps: int, spacing: str = "linspace"
            ) -> tuple[Schedule, np.ndarray]:
  """A schedule on `num_steps` timesteps of the full one (improved DDPM, sec. 4), chosen by
  `spacing` (see SPACINGS).

  The kept timesteps t_1 < ... < t_K keep their alpha_bar; the new betas are
  1 - abar(t_k) / abar(t_{k-1}). Returns the new schedule and the int32 [K] map from new index to
  the original timestep, which is what the network must be given. Spacings that stop short of
  T-1 (leading, quadratic) start sampling from the noise level of their last kept step.
  """
  kept = respaced_timesteps(len(betas), num_steps, spacing)
  abar = np.cumprod(1.0 - np.asarray(betas, np.float64))[kept]
  new_betas = 1.0 - abar / np.append(1.0, abar[:-1])
  return from_betas(new_betas), kept.astype(np.int32)


def gather(values: jax.Array, t: jax.Array, ndim: int) -> jax.Array:
  """values[t] for int [b] timesteps, reshaped to [b, 1, ..., 1] to broadcast over `ndim` dims."""
  out = values[t]  # [b]
  return out.reshape(out.shape + (1,) * (ndim - 1))
