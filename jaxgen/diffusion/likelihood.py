"""Estimators of a Gaussian diffusion's variational bound (NLL upper bound) in bits/dim.

The bound is L = sum_{t<T} L_t + L_T. On trained models it is concentrated at small t (the
decoder term L_0 alone is a large part of it), so the loop's one-t estimate T * L_t at a
uniform t has a standard error of the order of a bit per dim over a thousand digits. Two
estimators here have errors small enough to compare models:

- `full_vlb` (in `losses`): every term, T network evaluations per image.
- `importance_sampled_vlb`: the first `num_exact` terms exactly and the rest by importance
  sampling t from a proposal q(t) proportional to the terms' root-mean-square, measured on a
  few pilot images (`term_profile`, `proposal_from_profile`). Unbiased for any q that is
  positive wherever a term is non-zero (a uniform share of q guarantees that), at num_exact +
  num_draws evaluations per image.

Each returns one value per image, so the standard error over images (the error a comparison
needs, `jaxgen.metrics.intervals.mean_and_se`) includes the sampling noise of t and x_t.
"""

import jax
import jax.numpy as jnp
import numpy as np

from jaxgen.diffusion import losses, process
from jaxgen.diffusion.losses import ModelFn
from jaxgen.diffusion.process import Spec
from jaxgen.diffusion.schedules import Schedule


def term_at(spec: Spec, sched: Schedule, model_fn: ModelFn, x0: jax.Array, t: jax.Array,
            rng: jax.Array) -> jax.Array:
  """L_t in bits/dim at per-image timesteps t [b] for x0 [b, h, w, c], one draw of x_t: [b]."""
  noise = jax.random.normal(rng, x0.shape, x0.dtype)
  xt = process.q_sample(sched, x0, t, noise)
  return losses.vlb_term(spec, sched, model_fn(xt, t), x0, xt, t)


def term_profile(spec: Spec, sched: Schedule, model_fn: ModelFn, x0: jax.Array, rng: jax.Array,
                 ts: jax.Array) -> jax.Array:
  """L_t for every t in ts [g] and image in x0 [b]: [g, b] (one network call per t)."""
  b = x0.shape[0]

  def one(t_and_i):
    t, i = t_and_i
    return term_at(spec, sched, model_fn, x0, jnp.full((b,), t, jnp.int32),
                   jax.random.fold_in(rng, i))

  return jax.lax.map(one, (ts.astype(jnp.int32), jnp.arange(ts.shape[0])))


def proposal_from_profile(ts: np.ndarray, terms: np.ndarray, num_timesteps: int, num_exact: int,
                          uniform_share: float = 0.1) -> np.ndarray:
  """q(t) [T] for importance sampling t in [num_exact, T): zero below num_exact.

  ts [g] increasing timesteps in [num_exact, T) and terms [g, b] the L_t measured there.
  The shape is the terms' root-mean-square over images, interpolated log-linearly between the
  grid points (the terms fall over orders of magnitude), mixed with `uniform_share` of the
  uniform distribution so no t is left with a vanishing probability.
  """
  ts = np.asarray(ts, np.float64)
  if ts[0] < num_exact or ts[-1] >= num_timesteps or np.any(np.diff(ts) <= 0):
    raise ValueError("profile timesteps must increase within [num_exact, T)")
  rms = np.sqrt(np.mean(np.square(np.asarray(terms, np.float64)), axis=1))  # [g]
  log_rms = np.log(np.maximum(rms, 1e-12))
  grid = np.arange(num_exact, num_timesteps, dtype=np.float64)
  shape = np.exp(np.interp(grid, ts, log_rms))  # flat beyond the first and last grid points
  q = np.zeros(num_timesteps)
  q[num_exact:] = (1 - uniform_share) * shape / shape.sum() + uniform_share / len(grid)
  return q


def importance_sampled_vlb(spec: Spec, sched: Schedule, model_fn: ModelFn, x0: jax.Array,
                           rng: jax.Array, proposal: jax.Array, num_exact: int,
                           num_draws: int) -> jax.Array:
  """Unbiased estimate of the whole bound per image, [b] bits/dim.

  sum_{t < num_exact} L_t (each at one draw of x_t) + mean over num_draws of L_t / q(t) with
  t ~ q drawn per image + L_T. `proposal` [T] must be zero exactly below num_exact and
  positive above it (see `proposal_from_profile`).
  """
  b = x0.shape[0]
  exact_rng, draw_rng = jax.random.split(rng)

  def exact(total, t):
    return total + term_at(spec, sched, model_fn, x0, jnp.full((b,), t, jnp.int32),
                           jax.random.fold_in(exact_rng, t)), None

  head, _ = jax.lax.scan(exact, jnp.zeros((b,)), jnp.arange(num_exact))
  log_q = jnp.log(proposal)  # -inf below num_exact: never drawn

  def draw(total, key):
    t_key, x_key = jax.random.split(key)
    t = jax.random.categorical(t_key, log_q, shape=(b,))  # [b]
    return total + term_at(spec, sched, model_fn, x0, t, x_key) / proposal[t], None

  tail, _ = jax.lax.scan(draw, jnp.zeros((b,)), jax.random.split(draw_rng, num_draws))
  return head + tail / num_draws + losses.prior_bpd(sched, x0)
