"""Noise-conditional score networks (Song & Ermon 2019): geometric sigmas, DSM, annealed Langevin,
consistent annealed sampling (Jolicoeur-Martineau et al. 2021) and predictor-corrector sampling
(Song et al. 2021).

The score model is `net_fn(x, i) -> out` with i an int [b] index into the descending sigmas; the
score is out / sigma_i, the parameterisation of Song & Ermon 2020 (NCSNv2, technique 3), which
lets one unconditional-looking network cover scales that differ by orders of magnitude.
"""

from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

NetFn = Callable[[jax.Array, jax.Array], jax.Array]


def geometric_sigmas(sigma_max: float, sigma_min: float, num_scales: int) -> jax.Array:
  """sigma_1 > ... > sigma_L with a constant ratio, float32 [L] (computed in float64)."""
  return jnp.asarray(np.geomspace(sigma_max, sigma_min, num_scales), jnp.float32)


def largest_pairwise_distance(images: np.ndarray) -> float:
  """The largest Euclidean distance between two of `images` [n, ...] (NCSNv2 technique 1 sets
  sigma_1 to it over the training set; a few thousand images find it to within a few percent).
  Computed through the Gram matrix in float64, n^2 memory: pass a sample, not a whole set."""
  x = np.asarray(images, np.float64).reshape(len(images), -1)  # [n, d]
  sq = np.sum(x * x, axis=1)
  d2 = sq[:, None] + sq[None, :] - 2.0 * x @ x.T  # [n, n]
  return float(np.sqrt(max(d2.max(), 0.0)))


def phi_ratio(dim: int, target: float = 0.5) -> float:
  """The geometric ratio gamma = sigma_{i-1} / sigma_i of NCSNv2 technique 2: the root of
  Phi(sqrt(2D)(gamma - 1) + 3 gamma) - Phi(sqrt(2D)(gamma - 1) - 3 gamma) = target, so that
  neighbouring noise shells overlap enough for Langevin to pass from one to the next."""
  from scipy.stats import norm
  root = np.sqrt(2.0 * dim)
  overlap = lambda g: norm.cdf(root * (g - 1) + 3 * g) - norm.cdf(root * (g - 1) - 3 * g)
  lo, hi = 1.0 + 1e-9, 2.0  # overlap falls from 1 towards 0 as gamma grows
  for _ in range(200):
    mid = 0.5 * (lo + hi)
    lo, hi = (mid, hi) if overlap(mid) > target else (lo, mid)
  return lo


def langevin_step_size(gamma: float, sigma_min: float, steps_per_sigma: int) -> float:
  """NCSNv2 technique 4: the epsilon of alpha_i = epsilon * sigma_i^2 / sigma_L^2 that brings
  f(epsilon) = (1 - e/sL^2)^(2T) (gamma^2 - 2e / (sL^2 - sL^2 (1 - e/sL^2)^2))
               + 2e / (sL^2 - sL^2 (1 - e/sL^2)^2)
  (the chain's variance ratio after T steps at a level) closest to 1. With few steps a level f
  stays above 1 and the minimiser is taken (searched on a log grid below sigma_L^2)."""
  s2 = sigma_min ** 2
  eps = np.geomspace(s2 * 1e-6, s2 * 0.999, 4000)
  r = 1.0 - eps / s2
  tail = 2.0 * eps / (s2 - s2 * r ** 2)
  f = r ** (2 * steps_per_sigma) * (gamma ** 2 - tail) + tail
  return float(eps[np.argmin(np.abs(f - 1.0))])


def ncsnv2_sigmas(images: np.ndarray, sigma_min: float, steps_per_sigma: int
                  ) -> dict[str, float | int]:
  """NCSNv2's noise levels and step size for data like `images` [n, h, w, c] in the model's
  range: sigma_max (technique 1), the number of levels from the Phi ratio (technique 2) and
  step_lr (technique 4). The experiment configs hold the figures this gives on the training set."""
  sigma_max = largest_pairwise_distance(images)
  gamma = phi_ratio(int(np.prod(images.shape[1:])))
  num_scales = int(np.ceil(np.log(sigma_max / sigma_min) / np.log(gamma))) + 1
  return dict(sigma_max=sigma_max, num_scales=num_scales, gamma=gamma,
              step_lr=langevin_step_size(gamma, sigma_min, steps_per_sigma))


def score(net_fn: NetFn, sigmas: jax.Array, x: jax.Array, idx: jax.Array) -> jax.Array:
  """s(x, sigma_idx) = net(x, idx) / sigma_idx, [b, h, w, c]."""
  return net_fn(x, idx) / sigmas[idx].reshape((-1,) + (1,) * (x.ndim - 1))


def dsm_loss(net_fn: NetFn, sigmas: jax.Array, x: jax.Array,
             rng: jax.Array) -> tuple[jax.Array, dict[str, jax.Array]]:
  """Denoising score matching with lambda(sigma) = sigma^2 (Song & Ermon 2019 eq. 6).

  With x~ = x + sigma z, the target score is -z / sigma, so
  lambda * ||s - target||^2 / 2 = ||net(x~) + z||^2 / 2: the same scale at every sigma.
  Returns (loss, aux) with aux "loss" and "dsm_sq_err" (per-dim squared error).
  """
  b = x.shape[0]
  i_rng, z_rng = jax.random.split(rng)
  idx = jax.random.randint(i_rng, (b,), 0, sigmas.shape[0])  # [b]
  z = jax.random.normal(z_rng, x.shape, x.dtype)
  sigma = sigmas[idx].reshape((-1,) + (1,) * (x.ndim - 1))
  out = net_fn(x + sigma * z, idx)  # sigma * score
  sq = jnp.sum(jnp.square(out + z).reshape(b, -1), axis=1)  # [b]
  loss = 0.5 * jnp.mean(sq)
  return loss, {"loss": loss, "dsm_sq_err": jnp.mean(sq) / np.prod(x.shape[1:])}


def annealed_langevin(net_fn: NetFn, sigmas: jax.Array, x_init: jax.Array, rng: jax.Array,
                      steps_per_sigma: int, step_lr: float, denoise: bool = True) -> jax.Array:
  """Annealed Langevin dynamics (Song & Ermon 2019 Algorithm 1) as nested `lax.scan`s.

  At level i the step size is alpha_i = step_lr * sigma_i^2 / sigma_L^2 and each of
  `steps_per_sigma` steps is x <- x + alpha_i / 2 * s(x, sigma_i) + sqrt(alpha_i) z.
  With `denoise`, a final x + sigma_L^2 s(x, sigma_L) removes the last level's noise (Tweedie;
  NCSNv2 appendix), which visibly sharpens samples.
  """
  b = x_init.shape[0]
  num_scales = sigmas.shape[0]

  def level(x, i):
    alpha = step_lr * (sigmas[i] / sigmas[-1]) ** 2
    idx = jnp.full((b,), i, jnp.int32)

    def langevin(x, k):
      z = jax.random.normal(jax.random.fold_in(rng, i * steps_per_sigma + k), x.shape, x.dtype)
      return x + 0.5 * alpha * score(net_fn, sigmas, x, idx) + jnp.sqrt(alpha) * z, None

    x, _ = jax.lax.scan(langevin, x, jnp.arange(steps_per_sigma))
    return x, None

  x, _ = jax.lax.scan(level, x_init, jnp.arange(num_scales))
  if denoise:
    last = jnp.full((b,), num_scales - 1, jnp.int32)
    x = x + sigmas[-1] ** 2 * score(net_fn, sigmas, x, last)
  return x


def cas_noise_scale(sigmas: np.ndarray, eta: float) -> float:
  """beta of consistent annealed sampling: the share of sigma_{i+1} added as fresh noise after
  the step x + eta sigma_i^2 s(x) shrank the noise from sigma_i to (1 - eta) sigma_i, so that
  the noise is sigma_{i+1} again: beta^2 = 1 - ((1 - eta) gamma)^2, gamma = sigma_i / sigma_{i+1}.
  The largest ratio of neighbouring sigmas is taken: exact for geometric sigmas (one ratio),
  on the safe side otherwise. Raises ValueError when no beta exists (eta outside
  [1 - 1/gamma, 1))."""
  sig = np.asarray(sigmas, np.float64)
  gamma = float(np.max(sig[:-1] / sig[1:])) if len(sig) > 1 else 1.0
  if not 1.0 - 1.0 / gamma <= eta < 1.0:
    raise ValueError(f"consistent annealed sampling needs a step eta = lr / sigma_L^2 in "
                     f"[{1.0 - 1.0 / gamma:.4g}, 1) for these levels (ratio {gamma:.4g}); "
                     f"got {eta:.4g}")
  return float(np.sqrt(1.0 - ((1.0 - eta) * gamma) ** 2))


def consistent_annealed_sampling(net_fn: NetFn, sigmas: jax.Array, x_init: jax.Array,
                                 rng: jax.Array, step_lr: float, denoise: bool = True
                                 ) -> jax.Array:
  """Consistent annealed sampling (Jolicoeur-Martineau et al. 2021, Algorithm 2): one step a
  level, x <- x + eta sigma_i^2 s(x, sigma_i) + beta sigma_{i+1} z with eta = step_lr /
  sigma_L^2 (the same alpha_i = step_lr sigma_i^2 / sigma_L^2 as annealed Langevin's) and beta
  from `cas_noise_scale`, sigma_{L+1} = 0. Where annealed Langevin's noise level drifts from the
  schedule, this keeps the noise in x at exactly sigma_{i+1} after level i when the score is
  exact (the consistency the name refers to). `denoise` adds the final x + sigma_L^2 s(x).
  sigmas must be concrete (the ratio is checked on the host)."""
  sig = np.asarray(sigmas, np.float64)
  eta = step_lr / sig[-1] ** 2
  beta = cas_noise_scale(sig, eta)
  next_sigmas = np.append(sig[1:], 0.0)  # [L], sigma_{i+1}
  x = _annealed_steps(net_fn, sigmas, x_init, rng, 0, 0.0, np.full(len(sig), eta),
                      beta * next_sigmas)
  if denoise:
    last = jnp.full((x.shape[0],), sigmas.shape[0] - 1, jnp.int32)
    x = x + sigmas[-1] ** 2 * score(net_fn, sigmas, x, last)
  return x


def langevin_corrector(net_fn: NetFn, sigmas: jax.Array, x: jax.Array, idx: jax.Array,
                       rng: jax.Array, steps: int, snr: float) -> jax.Array:
  """`steps` Langevin steps at the levels `idx` [b] whose size follows the signal-to-noise
  ratio (Song et al. 2021, Algorithm 5): e = 2 (snr ||z|| / ||s(x)||)^2 per image, then
  x <- x + e s + sqrt(2 e) z; step k draws z from fold_in(rng, k + 1). [b, h, w, c]."""

  def per_image_norm(v):  # [b, h, w, c] -> [b, 1, 1, 1]
    return jnp.sqrt(jnp.sum(jnp.square(v), axis=tuple(range(1, v.ndim)), keepdims=True))

  def correct(x, k):
    s = score(net_fn, sigmas, x, idx)
    z = jax.random.normal(jax.random.fold_in(rng, k + 1), x.shape, x.dtype)
    e = 2.0 * jnp.square(snr * per_image_norm(z) / (per_image_norm(s) + 1e-12))
    return x + e * s + jnp.sqrt(2.0 * e) * z, None

  x, _ = jax.lax.scan(correct, x, jnp.arange(steps))
  return x


def predictor_corrector(net_fn: NetFn, sigmas: jax.Array, x_init: jax.Array, rng: jax.Array,
                        corrector_steps: int, snr: float) -> jax.Array:
  """Predictor-corrector sampling for the variance-exploding SDE (Song et al. 2021, Algorithm
  2, their best sampler for NCSN models), as nested `lax.scan`s: at level i,
  `corrector_steps` of `langevin_corrector` at sigma_i, then SMLD's ancestral step to
  sigma_{i+1} (their appendix F): x + (sigma_i^2 - sigma_{i+1}^2) s + sigma_{i+1}
  sqrt(1 - sigma_{i+1}^2 / sigma_i^2) z. The last one, to sigma_{L+1} = 0, is the denoising
  step x + sigma_L^2 s(x). sigmas must be concrete; returns [b, h, w, c]."""
  sig = np.asarray(sigmas, np.float64)
  next_sigmas = np.append(sig[1:], 0.0)  # [L], sigma_{i+1}
  shrink = 1.0 - (next_sigmas / sig) ** 2  # [L], the step's share of sigma_i^2
  return _annealed_steps(net_fn, sigmas, x_init, rng, corrector_steps, snr, shrink,
                         next_sigmas * np.sqrt(shrink))


def _annealed_steps(net_fn: NetFn, sigmas: jax.Array, x_init: jax.Array, rng: jax.Array,
                    corrector_steps: int, snr: float, step: np.ndarray, noise: np.ndarray
                    ) -> jax.Array:
  """The loop CAS and predictor-corrector share: at level i, `corrector_steps` Langevin
  corrections, then x <- x + step_i sigma_i^2 s(x, sigma_i) + noise_i z with z from
  fold_in(rng, i). step, noise: [L] on the host."""
  b = x_init.shape[0]
  step = jnp.asarray(step, jnp.float32)
  noise = jnp.asarray(noise, jnp.float32)

  def level(x, i):
    idx = jnp.full((b,), i, jnp.int32)
    level_rng = jax.random.fold_in(rng, i)
    x = langevin_corrector(net_fn, sigmas, x, idx, level_rng, corrector_steps, snr)
    z = jax.random.normal(level_rng, x.shape, x.dtype)
    return x + step[i] * sigmas[i] ** 2 * score(net_fn, sigmas, x, idx) + noise[i] * z, None

  x, _ = jax.lax.scan(level, x_init, jnp.arange(sigmas.shape[0]))
  return x
