"""Classifier-free and classifier guidance."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.diffusion import guidance, samplers, schedules
from jaxgen.diffusion.process import Spec, VarType
from gaussian_data import mixture_parts


def labelled_model(x, t, y):
  """A toy conditional network whose output depends on x, t and the label (null = 10)."""
  return jnp.sin(x + 0.01 * t[:, None, None, None]) + 0.1 * y[:, None, None, None]


def test_cfg_w0_equals_conditional_and_formula():
  x = jax.random.normal(jax.random.PRNGKey(0), (3, 4, 4, 2))
  t, y = jnp.array([1, 5, 9]), jnp.array([0, 3, 7])
  spec = Spec()
  np.testing.assert_allclose(guidance.classifier_free(spec, labelled_model, y, 10, 0.0)(x, t),
                             labelled_model(x, t, y), rtol=1e-6)
  w = 2.5
  want = (1 + w) * labelled_model(x, t, y) - w * labelled_model(x, t, jnp.full_like(y, 10))
  np.testing.assert_allclose(guidance.classifier_free(spec, labelled_model, y, 10, w)(x, t), want,
                             rtol=1e-5, atol=1e-6)


def test_cfg_keeps_the_conditional_variance_channel():
  x = jax.random.normal(jax.random.PRNGKey(0), (2, 3, 3, 1))
  t, y = jnp.array([1, 2]), jnp.array([4, 5])
  model = lambda x, t, y: jnp.concatenate([labelled_model(x, t, y), 0.01 * y[:, None, None, None]
                                           * jnp.ones_like(x)], -1)
  out = guidance.classifier_free(Spec(var_type=VarType.LEARNED_RANGE), model, y, 10, 3.0)(x, t)
  np.testing.assert_allclose(out[..., 1:], model(x, t, y)[..., 1:])


def test_drop_labels_rate():
  y = jnp.zeros((20000,), jnp.int32)
  dropped = guidance.drop_labels(jax.random.PRNGKey(0), y, 0.2, 10)
  assert set(np.unique(dropped)) == {0, 10}
  assert abs(float(jnp.mean(dropped == 10)) - 0.2) < 0.01


def test_classifier_grad_of_linear_softmax():
  """For logits = x W, grad_x log p(y | x) = W_y - sum_k p_k W_k, times the scale."""
  w = jax.random.normal(jax.random.PRNGKey(1), (8, 3))
  logits_fn = lambda x, t: x.reshape(x.shape[0], -1) @ w
  x = jax.random.normal(jax.random.PRNGKey(2), (2, 2, 2, 2))
  y = jnp.array([0, 2])
  got = guidance.classifier_grad(logits_fn, y, 3.0)(x, jnp.zeros(2, jnp.int32))
  p = jax.nn.softmax(logits_fn(x, None))
  want = 3.0 * (w.T[y] - p @ w.T).reshape(x.shape)
  np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


# Two classes of 4-pixel images, N(-0.5, 0.1^2) and N(+0.5, 0.1^2): the exact conditional and
# unconditional eps-networks and the exact noisy classifier are known in closed form.
MEANS, S = (-0.5, 0.5), 0.1
EXACT = Spec(var_type=VarType.FIXED_SMALL, clip_x0=False)


@pytest.fixture(scope="module")
def mixture():
  betas = schedules.linear_betas(200)
  sched = schedules.from_betas(betas)
  return betas, sched, mixture_parts(sched, MEANS, S)


def read_class(x):
  """The class of samples [b, 2, 2, 1] of the mixture: the sign of their mean."""
  return np.asarray(jnp.mean(x, axis=(1, 2, 3)) > 0).astype(np.int32)


def start(n=512):
  y = jnp.arange(n, dtype=jnp.int32) % 2
  return y, jax.random.normal(jax.random.PRNGKey(0), (n, 2, 2, 1))


def test_classifier_guidance_turns_the_exact_unconditional_model_conditional(mixture):
  """At scale 1, eps - sqrt(1 - abar) grad log p(y | x_t) of the exact unconditional model is the
  exact conditional eps, so guided DDIM (Dhariwal & Nichol Algorithm 2) on a respaced schedule
  retraces the conditional model's trajectory; unguided it samples both classes."""
  betas, _, (cond_eps, uncond_eps, logits) = mixture
  run_sched, ts = schedules.respace(betas, 25)
  y, z = start()
  rng = jax.random.PRNGKey(1)
  cond_fn = samplers.respaced_model_fn(guidance.classifier_grad(logits, y, 1.0), ts)
  run = jax.jit(lambda fn, cond: samplers.ddim_sample(EXACT, run_sched, fn, z, rng, cond_fn=cond),
                static_argnums=(0, 1))
  guided = run(samplers.respaced_model_fn(uncond_eps, ts), cond_fn)
  conditional = run(samplers.respaced_model_fn(lambda x, t: cond_eps(x, t, y), ts), None)
  unguided = run(samplers.respaced_model_fn(uncond_eps, ts), None)
  np.testing.assert_allclose(guided, conditional, atol=2e-3)
  assert np.mean(read_class(guided) == y) > 0.99
  assert 0.4 < np.mean(read_class(unguided) == y) < 0.6


def test_guided_ddim_with_clipping_follows_algorithm_2():
  """With x_0 clipping on and a gradient large enough to push x_0 far outside [-1, 1], each step
  is Algorithm 2 on the clipped prediction: eps from the clipped x_0, shifted by
  -sqrt(1 - abar) * gradient, and the DDIM step taken with that eps and its (unclipped) x_0."""
  spec = Spec(var_type=VarType.FIXED_SMALL, clip_x0=True)
  sched, _ = schedules.respace(schedules.linear_betas(100), 3)
  z = np.asarray(jax.random.normal(jax.random.PRNGKey(0), (4, 2, 2, 1)))
  gradient = 3.0
  model = lambda x, t: 0.3 * x + 0.1 * t[:, None, None, None]
  got = samplers.ddim_sample(spec, sched, model, jnp.asarray(z), jax.random.PRNGKey(1),
                             cond_fn=lambda x, t: jnp.full_like(x, gradient))
  abars = np.asarray(sched.alphas_cumprod, np.float64)
  x = z.astype(np.float64)
  for i in (2, 1, 0):
    abar, abar_prev = abars[i], (abars[i - 1] if i else 1.0)
    x0 = np.clip((x - np.sqrt(1 - abar) * (0.3 * x + 0.1 * i)) / np.sqrt(abar), -1, 1)
    eps = (x - np.sqrt(abar) * x0) / np.sqrt(1 - abar) - np.sqrt(1 - abar) * gradient
    x0 = (x - np.sqrt(1 - abar) * eps) / np.sqrt(abar)
    if i == 2:
      assert np.abs(x0).min() > 1.5  # the case where a second clip would change the step
    x = np.sqrt(abar_prev) * x0 + np.sqrt(1 - abar_prev) * eps
  np.testing.assert_allclose(np.asarray(got), x, rtol=1e-4, atol=1e-4)


def test_classifier_guidance_in_ancestral_sampling(mixture):
  """Algorithm 1 (mean + Sigma grad log p(y | x_t)) moves samples of the exact unconditional
  model to their label; a larger scale sharpens, a negative one pushes to the other class."""
  _, sched, (_, uncond_eps, logits) = mixture
  y, z = start()

  @jax.jit
  def run(scale):
    cond_fn = guidance.classifier_grad(logits, y, scale)
    return samplers.ddpm_sample(EXACT, sched, uncond_eps, z, jax.random.PRNGKey(2), cond_fn)

  assert np.mean(read_class(run(1.0)) == y) > 0.97
  assert np.mean(read_class(run(-1.0)) == y) < 0.25
  assert 0.4 < np.mean(read_class(run(0.0)) == y) < 0.6


def test_classifier_free_guidance_with_exact_networks(mixture):
  """eps~ = (1 + w) eps(x, y) - w eps(x) with the exact pair: every sample lands in its class,
  and w > 0 pulls each sample further from the other class than the conditional model does."""
  betas, _, (cond_eps, uncond_eps, _) = mixture
  run_sched, ts = schedules.respace(betas, 25)
  null = len(MEANS)
  labelled = lambda x, t, lab: jnp.where((lab == null).reshape(-1, 1, 1, 1), uncond_eps(x, t),
                                         cond_eps(x, t, jnp.minimum(lab, null - 1)))
  y, z = start()

  @jax.jit
  def run(w):
    fn = samplers.respaced_model_fn(guidance.classifier_free(EXACT, labelled, y, null, w), ts)
    return samplers.ddim_sample(EXACT, run_sched, fn, z, jax.random.PRNGKey(3))

  plain, guided = run(0.0), run(2.0)
  assert np.mean(read_class(plain) == y) > 0.99 and np.mean(read_class(guided) == y) > 0.99
  signed = lambda x: np.asarray(jnp.mean(x, axis=(1, 2, 3))) * np.where(np.asarray(y) == 1, 1, -1)
  assert np.all(signed(guided) > signed(plain))  # same x_T: each sample moves outwards
