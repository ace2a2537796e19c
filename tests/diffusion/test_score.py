"""NCSN pieces on Gaussian data, where the perturbed score is known exactly."""

import jax
import numpy as np
import pytest

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


def test_consistent_annealed_sampling_keeps_the_noise_on_schedule():
  """On a point mass (score -(x - mu) / sigma^2) started at noise sigma_1, every level leaves
  noise sigma_{i+1} exactly; after the last (sigma_{L+1} = 0) what is left is (1 - eta) sigma_L,
  and the final denoising step removes it."""
  sigmas = score.geometric_sigmas(3.0, 0.05, 12)
  sig = np.asarray(sigmas, np.float64)
  eta = 0.5  # the levels' ratio is 1.45: eta must be at least 1 - 1 / 1.45
  point = lambda x, i: -(x - 0.3) / sigmas[i].reshape((-1, 1, 1, 1))  # sigma * score
  x0 = 0.3 + sig[0] * jax.random.normal(jax.random.PRNGKey(0), (4096, 2, 2, 1))
  lr = eta * sig[-1] ** 2
  for k in (4, 12):  # a run over the first k levels ends with noise (1 - eta) sigma_k
    x = score.consistent_annealed_sampling(point, sigmas[:k], x0, jax.random.PRNGKey(1),
                                           eta * sig[k - 1] ** 2, denoise=False)
    assert abs(float(x.std()) / ((1 - eta) * sig[k - 1]) - 1) < 0.03
  x = score.consistent_annealed_sampling(point, sigmas, x0, jax.random.PRNGKey(1), lr)
  np.testing.assert_allclose(np.asarray(x), 0.3, atol=1e-5)
  gamma = sig[0] / sig[1]
  assert score.cas_noise_scale(sig, eta) == pytest.approx(np.sqrt(1 - ((1 - eta) * gamma) ** 2))
  with pytest.raises(ValueError, match="in \\["):
    score.cas_noise_scale(sig, 0.1)  # (1 - eta) gamma > 1: the step shrinks the noise too little


def test_consistent_annealed_sampling_samples_gaussian_data():
  sigmas = score.geometric_sigmas(3.0, 0.01, 60)
  x_init = jax.random.uniform(jax.random.PRNGKey(0), (4096, 2, 2, 1), minval=-1, maxval=1)
  x = score.consistent_annealed_sampling(exact_sigma_score_fn(sigmas, 0.2, 0.5), sigmas, x_init,
                                         jax.random.PRNGKey(1), 2e-5)
  assert abs(float(x.mean()) - 0.2) < 0.03 and abs(float(x.std()) - 0.5) < 0.03


def test_ncsnv2_techniques_against_their_definitions():
  """Technique 1 against brute force, technique 2's ratio against its Phi condition, technique 4's
  step against a dense scan of its f(epsilon)."""
  from scipy.stats import norm
  x = np.random.default_rng(0).normal(size=(40, 3, 3, 1))
  brute = max(np.linalg.norm(a - b) for a in x for b in x)
  np.testing.assert_allclose(score.largest_pairwise_distance(x), brute, rtol=1e-9)
  gamma = score.phi_ratio(784)
  a = np.sqrt(2 * 784) * (gamma - 1)
  np.testing.assert_allclose(norm.cdf(a + 3 * gamma) - norm.cdf(a - 3 * gamma), 0.5, atol=1e-9)
  s2, steps = 0.01 ** 2, 5
  f = lambda e: ((1 - e / s2) ** (2 * steps) * (gamma ** 2 - 2 * e / (s2 - s2 * (1 - e / s2) ** 2))
                 + 2 * e / (s2 - s2 * (1 - e / s2) ** 2))
  eps = score.langevin_step_size(gamma, 0.01, steps)
  scan = np.geomspace(1e-8, 5e-5, 2001)
  assert abs(f(eps) - 1) <= np.min(np.abs(f(scan) - 1)) + 1e-6
  assert 5e-6 < eps < 2e-5  # the "about 1e-5 at 5 steps a level"


def test_the_ncsn_config_holds_the_ncsnv2_figures_of_the_training_digits():
  """The default's sigmas and step come from the recipe on the embedded training split."""
  from experiments.configs import ncsn
  from jaxgen.data import sources
  images = sources.load_arrays("embedded_digits", "train")["image"] / 255.0 * 2.0 - 1.0
  c = ncsn.get_config().ncsn
  recipe = score.ncsnv2_sigmas(images, c.sigma_min, c.steps_per_sigma)
  np.testing.assert_allclose(c.sigma_max, recipe["sigma_max"], rtol=0.01)
  assert c.num_scales == recipe["num_scales"]
  np.testing.assert_allclose(c.step_lr, recipe["step_lr"], rtol=0.05)
  paper = ncsn.get_config("paper").ncsn
  assert (paper.sigma_max, paper.num_scales, paper.steps_per_sigma) == (1.0, 10, 100)


def test_ancestral_predictor_ends_denoised():
  """Without corrector steps, predictor-corrector is SMLD's ancestral sampler: on a point mass
  (score -(x - mu) / sigma^2) started at noise sigma_1, the last step, to sigma_{L+1} = 0,
  lands exactly on the point whatever the noise the steps before added."""
  sigmas = score.geometric_sigmas(3.0, 0.05, 12)
  sig = np.asarray(sigmas, np.float64)
  point = lambda x, i: -(x - 0.3) / sigmas[i].reshape((-1, 1, 1, 1))  # sigma * score
  x0 = 0.3 + sig[0] * jax.random.normal(jax.random.PRNGKey(0), (4096, 2, 2, 1))
  for k in (4, 12):
    x = score.predictor_corrector(point, sigmas[:k], x0, jax.random.PRNGKey(1), 0, 0.16)
    np.testing.assert_allclose(np.asarray(x), 0.3, atol=1e-5)


def test_langevin_corrector_against_its_formula_and_stationary_law():
  """One step against e = 2 (r ||z|| / ||s||)^2, x + e s + sqrt(2e) z in numpy; and on Gaussian
  data, N(mu, s^2 + sigma^2) at a fixed level stays put under many corrector steps (in 256
  dimensions, where ||z|| / ||s|| concentrates as it does for images; in a handful of
  dimensions the ratio's tails make the step erratic)."""
  sigmas = score.geometric_sigmas(1.0, 0.1, 3)
  fn = exact_sigma_score_fn(sigmas, 0.2, 0.5)
  x = jax.random.normal(jax.random.PRNGKey(0), (3, 4, 4, 1))
  idx = np.full((3,), 1, np.int32)
  rng = jax.random.PRNGKey(5)
  out = score.langevin_corrector(fn, sigmas, x, idx, rng, 1, 0.3)
  s = np.asarray(score.score(fn, sigmas, x, idx))
  z = np.asarray(jax.random.normal(jax.random.fold_in(rng, 1), x.shape))
  norm = lambda v: np.sqrt(np.sum(np.square(v), axis=(1, 2, 3), keepdims=True))
  e = 2 * (0.3 * norm(z) / norm(s)) ** 2
  np.testing.assert_allclose(np.asarray(out), np.asarray(x) + e * s + np.sqrt(2 * e) * z,
                             rtol=1e-5, atol=1e-6)
  std = np.sqrt(0.5 ** 2 + float(sigmas[1]) ** 2)
  many = 0.2 + std * jax.random.normal(jax.random.PRNGKey(1), (512, 16, 16, 1))
  idx = np.full((512,), 1, np.int32)
  after = score.langevin_corrector(fn, sigmas, many, idx, jax.random.PRNGKey(2), 50, 0.16)
  assert abs(float(after.mean()) - 0.2) < 0.03 and abs(float(after.std()) / std - 1) < 0.05


def test_predictor_corrector_samples_gaussian_data():
  """Ancestral steps alone and with one corrector step a level (16x16, where the snr step is
  steady) end at the data's N(0.2, 0.5^2)."""
  sigmas = score.geometric_sigmas(3.0, 0.01, 60)
  x_init = jax.random.uniform(jax.random.PRNGKey(0), (512, 16, 16, 1), minval=-1, maxval=1)
  for corrector_steps in (0, 1):
    x = score.predictor_corrector(exact_sigma_score_fn(sigmas, 0.2, 0.5), sigmas, x_init,
                                  jax.random.PRNGKey(1), corrector_steps, 0.16)
    assert abs(float(x.mean()) - 0.2) < 0.03 and abs(float(x.std()) - 0.5) < 0.03
