"""The diffusion bound and its estimators against an exact likelihood and against each other.

For data x_0 ~ N(0, I) every marginal q(x_t) is N(0, I), the exact noise predictor is
E[eps | x_t] = sqrt(1 - abar_t) x_t, and the exact reverse step has variance beta_t (a
learned-range variance at v = +1). A model built from these equals the forward process
jointly, so its bound is tight: for every x_0, E[sum_{t>=1} L_t] + L_T + E[-log p(x_0|x_1)]
= -log N(x_0; 0, I), which the test checks with the continuous decoder.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.diffusion import likelihood, losses, process, schedules
from jaxgen.diffusion.process import MeanType, Spec, VarType

T = 40
SCHED = schedules.from_betas(schedules.linear_betas(T))  # beta from 0.0025 to 0.5
EXACT_SPEC = Spec(MeanType.EPSILON, VarType.LEARNED_RANGE, clip_x0=False)


def exact_model(xt, t):
  """[E[eps | x_t], v = +1] for N(0, I) data: [b, h, w, 2c]."""
  scale = jnp.sqrt(1.0 - SCHED.alphas_cumprod[t])[:, None, None, None]
  return jnp.concatenate([scale * xt, jnp.ones_like(xt)], axis=-1)


def test_the_bound_of_the_exact_model_is_the_exact_likelihood():
  x0 = jax.random.normal(jax.random.key(0), (1, 3, 3, 1))
  copies = jnp.repeat(x0, 4000, axis=0)  # independent x_t draws per copy
  kl_sum = sum(likelihood.term_at(EXACT_SPEC, SCHED, exact_model, copies,
                                  jnp.full((len(copies),), t), jax.random.key(t)).mean()
               for t in range(1, T))
  # The continuous decoder term -E[log N(x_0; mean(x_1), var)] in bits/dim.
  t0 = jnp.zeros((len(copies),), jnp.int32)
  x1 = process.q_sample(SCHED, copies, t0, jax.random.normal(jax.random.key(99), copies.shape))
  p = process.p_mean_variance(EXACT_SPEC, SCHED, exact_model(x1, t0), x1, t0)
  decoder = jnp.mean(0.5 * (math.log(2 * math.pi) + p.log_variance
                            + (copies - p.mean) ** 2 / p.variance)) / math.log(2)
  bound = float(kl_sum + losses.prior_bpd(SCHED, x0)[0] + decoder)
  exact = float(jnp.mean(0.5 * (math.log(2 * math.pi) + x0 ** 2)) / math.log(2))
  assert bound == pytest.approx(exact, abs=0.01), (bound, exact)
  # A model whose variance is the smaller posterior one has a strictly looser bound.
  loose = Spec(MeanType.EPSILON, VarType.FIXED_SMALL, clip_x0=False)
  eps_only = lambda xt, t: exact_model(xt, t)[..., :1]
  loose_kl = sum(likelihood.term_at(loose, SCHED, eps_only, copies, jnp.full((len(copies),), t),
                                    jax.random.key(t)).mean() for t in range(1, T))
  assert float(loose_kl) > float(kl_sum) + 0.05


def toy_model(xt, t):
  """A fixed, imperfect denoiser for [-1, 1] images: the bound is far from tight."""
  return 0.5 * xt * jnp.sqrt(1.0 - SCHED.alphas_cumprod[t])[:, None, None, None]


def test_importance_sampling_is_unbiased_for_the_full_bound():
  spec = Spec(MeanType.EPSILON, VarType.FIXED_LARGE)
  rng = np.random.default_rng(0)
  x0 = jnp.asarray(rng.integers(0, 256, (64, 4, 4, 1)) / 127.5 - 1.0, jnp.float32)
  full = np.asarray(losses.full_vlb(spec, SCHED, toy_model, x0, jax.random.key(1))["total_bpd"])
  ts = np.unique(np.geomspace(4, T - 1, 12).astype(int))
  terms = likelihood.term_profile(spec, SCHED, toy_model, x0[:16], jax.random.key(2),
                                  jnp.asarray(ts))
  q = likelihood.proposal_from_profile(ts, np.asarray(terms), T, num_exact=4)
  assert q[:4].sum() == 0 and q[4:].min() > 0 and q.sum() == pytest.approx(1.0)
  estimate = np.asarray(likelihood.importance_sampled_vlb(
      spec, SCHED, toy_model, x0, jax.random.key(3), jnp.asarray(q, jnp.float32), 4, 8))
  # Per image the estimate differs from the full bound only by sampling noise, so the mean
  # difference is within 3 of its standard errors (unbiased), and it is small.
  diff = estimate - full
  se = diff.std(ddof=1) / math.sqrt(len(diff))
  assert abs(diff.mean()) < 3 * se + 1e-3 and se < 0.02 * full.mean()
  # Wrong weights (forgetting to divide by q) would be far off.
  with pytest.raises(ValueError):
    likelihood.proposal_from_profile(ts[::-1], np.asarray(terms), T, num_exact=4)


def test_one_t_estimate_is_much_noisier_than_importance_sampling():
  """Why the loop's one-t estimate is not for comparisons: its spread per image, against the
  importance-sampled estimator's at the same images."""
  spec = Spec(MeanType.EPSILON, VarType.FIXED_LARGE)
  x0 = jnp.asarray(np.random.default_rng(4).integers(0, 256, (256, 4, 4, 1)) / 127.5 - 1,
                   jnp.float32)
  x0 = jnp.repeat(x0[:1], 256, axis=0)  # one image: all spread is estimator noise
  t = jax.random.randint(jax.random.key(5), (256,), 0, T)
  one_t = T * likelihood.term_at(spec, SCHED, toy_model, x0, t, jax.random.key(6))
  uniform_q = jnp.asarray(np.r_[np.zeros(4), np.full(T - 4, 1 / (T - 4))], jnp.float32)
  sampled = likelihood.importance_sampled_vlb(spec, SCHED, toy_model, x0, jax.random.key(7),
                                              uniform_q, 4, 8)
  assert float(jnp.std(sampled)) < 0.5 * float(jnp.std(one_t))
