"""NCSN pieces on Gaussian data, where the perturbed score is known exactly."""

import jax
import numpy as np

from jaxgen.diffusion import score
from gaussian_data import exact_sigma_score_fn


def test_geometric_sigmas():
  sigmas = np.asarray(score.geometric_sigmas(10.0, 0.01, 7), np.float64)
  np.testing.assert_allclose(sigmas[[0, -1]], [10.0, 0.01], rtol=1e-6)
  ratios = sigmas[1:] / sigmas[:-1]
  np.testing.assert_allclose(ratios, ratios[0], rtol=1e-5)


def test_dsm_loss_is_minimised_by_the_true_score():
  """The exact score gives a lower DSM loss than perturbed versions of it."""
  sigmas = score.geometric_sigmas(5.0, 0.05, 10)
  x = 0.2 + 0.5 * jax.random.normal(jax.random.PRNGKey(0), (4096, 2, 2, 1))
  best = exact_sigma_score_fn(sigmas, 0.2, 0.5)
  losses = [score.dsm_loss(lambda x, i, c=c: c * best(x, i), sigmas, x, jax.random.PRNGKey(1))[0]
            for c in (0.8, 1.0, 1.2)]
  assert float(losses[1]) < min(float(losses[0]), float(losses[2]))


def test_annealed_langevin_samples_gaussian_data():
  sigmas = score.geometric_sigmas(3.0, 0.01, 20)
  x_init = jax.random.uniform(jax.random.PRNGKey(0), (1024, 2, 2, 1), minval=-1, maxval=1)
  run = jax.jit(lambda x: score.annealed_langevin(exact_sigma_score_fn(sigmas, 0.2, 0.5), sigmas, x,
                                                  jax.random.PRNGKey(1), 20, 2e-5))
  x = run(x_init)
  assert abs(float(x.mean()) - 0.2) < 0.05 and abs(float(x.std()) - 0.5) < 0.05
