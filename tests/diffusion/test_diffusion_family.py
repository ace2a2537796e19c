"""The diffusion families end to end through the Family interface, on real digits."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.configs import cfg, iddpm, ncsn, noisy_classifier
from jaxgen.errors import UserError
from jaxgen.data import load_arrays
from jaxgen.diffusion.family import make_family
from jaxgen.train.compile import run_once
from jaxgen.train.family import DataSpec
from tests.helpers import assert_plausible_images


def digits(n: int) -> dict[str, np.ndarray]:
  """The first `n` real train digits of the embedded dataset, images scaled to [0, 1]."""
  arrays = load_arrays("embedded_digits", "train")
  images, labels = arrays["image"][:n], arrays["label"][:n]
  return {"image": np.asarray(images, np.float32) / 255.0, "label": np.asarray(labels, np.int32)}


def init_key():
  """An rbg key: XLA compiles initialisers from it several times faster than from threefry."""
  return jax.random.key(0, impl="unsafe_rbg")


@pytest.fixture(scope="module")
def data():
  d = digits(512)
  return d, DataSpec(image_shape=d["image"].shape[1:], num_classes=10)


@pytest.mark.slow
def test_tiny_iddpm_loss_falls(data):
  arrays, _ = data
  # 2x2 mean-pooled to 14x14, still real digits: a quarter of the compute per step.
  images = arrays["image"].reshape(-1, 14, 2, 14, 2, 1).mean(axis=(2, 4))
  arrays = {"image": images, "label": arrays["label"]}
  spec = DataSpec(image_shape=(14, 14, 1), num_classes=10)
  config = iddpm.get_config("tiny")
  config.learning_rate, config.warmup_steps = 2e-3, 1
  config.model.channel_mult = (1, 2)  # 14 -> 7, attention at 14
  family = make_family(config, spec)
  batch = lambda i: {k: jnp.asarray(v[16 * i:16 * (i + 1)]) for k, v in arrays.items()}
  state = run_once(family.create_state, init_key(), batch(0))
  train_step = jax.jit(family.train_step, donate_argnums=0)
  eval_step = jax.jit(family.eval_step)
  held = {k: jnp.asarray(v[-32:]) for k, v in arrays.items()}

  def held_mse(state):  # the raw params on fixed t and noise draws: only the parameters vary
    return float(eval_step(state.replace(ema_params=state.params), held, jax.random.PRNGKey(7))["mse"])

  before = held_mse(state)
  for i in range(30):
    state, metrics = train_step(state, batch(i % 24), jax.random.fold_in(jax.random.PRNGKey(1), i))
    assert np.isfinite(float(metrics["loss"]))
  after = held_mse(state)
  assert after < 0.7 * before, (before, after)
  metrics = eval_step(state, held, jax.random.PRNGKey(2))
  assert {"loss", "mse", "vb", "nll_bpd_one_t"} <= set(metrics)
  assert metrics["nll_bpd_one_t"].shape == (len(held["image"]),)  # per image: the loop adds its SE
  assert np.all(metrics["nll_bpd_one_t"] > 0)


@pytest.mark.parametrize("module", [cfg, ncsn, noisy_classifier])
@pytest.mark.slow
def test_families_take_a_step(data, module):
  arrays, spec = data
  config = module.get_config("tiny")
  # One narrow level without attention: these only check the plumbing, and compile fast.
  config.model.channel_mult, config.model.attention_resolutions = (1,), ()
  config.model.base_channels = 8
  family = make_family(config, spec)
  batch = {k: jnp.asarray(v[:8]) for k, v in arrays.items()}
  state = run_once(family.create_state, init_key(), batch)
  state, metrics = jax.jit(family.train_step)(state, batch, jax.random.PRNGKey(1))
  assert int(state.step) == 1 and np.isfinite(float(metrics["loss"]))
  if module is noisy_classifier:
    assert config.augment_shift > 0  # the tiny variant runs the augmented path
    accuracies = jax.jit(family.eval_step)(state, batch, jax.random.PRNGKey(3))
    for name in ("accuracy", "accuracy_clean", "accuracy_t100", "accuracy_t250", "accuracy_t500"):
      assert 0.0 <= float(accuracies[name]) <= 1.0, name
  if family.sample is not None:
    labels = jnp.arange(4, dtype=jnp.int32) if family.conditional else None
    images = family.sample(state, jax.random.PRNGKey(2), 4, labels)
    assert images.shape == (4,) + spec.image_shape
    assert_plausible_images(images)
  if module is ncsn:  # the sampler options experiments.score tunes
    # The tiny config's 5 levels from 31.2 to 0.01 have the ratio 7.47: consistent annealed
    # sampling needs eta = lr / sigma_L^2 >= 1 - 1 / 7.47, lr >= 8.7e-5.
    images = family.sample(state, jax.random.PRNGKey(2), 4, sampler="cas", step_lr=9e-5)
    assert images.shape == (4,) + spec.image_shape
    assert_plausible_images(images)
    with pytest.raises(UserError, match="consistent annealed sampling needs"):
      family.sample(state, jax.random.PRNGKey(2), 4, sampler="cas")  # the config's 1.1e-5
    with pytest.raises(UserError, match="als, cas, pc"):
      family.sample(state, jax.random.PRNGKey(2), 4, sampler="euler")
    images = family.sample(state, jax.random.PRNGKey(2), 4, sampler="pc", steps_per_sigma=1)
    assert_plausible_images(images)
    for options in ({"sampler": "cas", "step_lr": 9e-5}, {"sampler": "pc", "snr": 0.1}):
      # as experiments.score and the report draw: the sampler with its options under jit
      jitted = jax.jit(functools.partial(family.sample, **options), static_argnums=(2,))
      assert jitted(state, jax.random.PRNGKey(2), 4, None).shape == (4,) + spec.image_shape
    with pytest.raises(UserError, match="positive snr"):
      family.sample(state, jax.random.PRNGKey(2), 4, sampler="pc", snr=0.0)
    images = family.sample(state, jax.random.PRNGKey(2), 4, sampler="als", steps_per_sigma=1,
                           denoise=False)
    assert images.shape == (4,) + spec.image_shape
