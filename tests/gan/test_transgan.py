"""TransGAN: network shapes, DiffAugment, and a tiny run through the loop that learns digits with
n_critic critic updates, an EMA generator and a train step compiled once."""

import re

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.data.pipeline import SplitData
from jaxgen.gan import diffaugment
from jaxgen.gan import family as gan_family
from jaxgen.gan.adversarial import GanSettings, GanSteps
from jaxgen.gan.losses import AdversarialLoss
from jaxgen.nets.transgan import ConvCritic, TransGANDiscriminator, TransGANGenerator
from jaxgen.train.compile import run_once
from jaxgen.train.family import DataSpec, Family
from jaxgen.train import loop
from jaxgen.train.loop import train_and_evaluate
from jaxgen.train.mesh import batch_sharded, make_mesh, replicated
from jaxgen.train.restore import restore_trained
from tests.gan.test_gan_steps import pixel_frechet
from tests.helpers import tiny_config

SPEC = DataSpec((28, 28, 1), 10)
POLICY = ("translation", "cutout")


def test_transgan_shapes_stages_and_conditioning():
  """The conditional pair's shapes, without compiling (the loop test below runs the networks)."""
  generator = TransGANGenerator((28, 28, 1), widths=(16, 8, 4), depths=(1, 1, 1),
                                num_heads=(2, 1, 1), window=7, num_classes=10)
  critic = TransGANDiscriminator(patch=7, dim=8, depth=1, num_heads=2, num_classes=10)
  z, labels = jnp.zeros((3, 4)), jnp.zeros((3,), jnp.int32)
  g_params = jax.eval_shape(generator.init, jax.random.key(0), z, labels)["params"]
  # A new position table per stage, on the 7x7, 14x14 and 28x28 grids; pixel shuffle takes the
  # 16 channels at 7x7 to 4 at 14x14, widened to 8, then to 2 at 28x28, widened to 4.
  chex.assert_shape([g_params[f"position{i}"]["embedding"] for i in range(3)],
                    [(49, 16), (196, 8), (784, 4)])
  chex.assert_shape([g_params["widen1"]["kernel"], g_params["widen2"]["kernel"]],
                    [(4, 8), (2, 4)])
  chex.assert_shape(g_params["label_embedding"]["embedding"], (10, 4))  # beside the noise
  images = jax.eval_shape(generator.apply, {"params": g_params}, z, labels)
  chex.assert_shape(images, (3, 28, 28, 1))
  d_params = jax.eval_shape(critic.init, jax.random.key(0), images, labels)["params"]
  chex.assert_shape(d_params["position"]["embedding"], (17, 8))  # 16 patches and a class token
  chex.assert_shape(d_params["label_projection"]["embedding"], (10, 8))
  chex.assert_shape(jax.eval_shape(critic.apply, {"params": d_params}, images, labels), (3,))
  with pytest.raises(ValueError, match="needs labels"):
    jax.eval_shape(critic.init, jax.random.key(0), images, None)


def test_projection_critic_scores_each_image_alone_and_reads_the_label():
  critic = TransGANDiscriminator(patch=7, dim=8, depth=1, num_heads=2, num_classes=10)
  x = np.random.default_rng(0).uniform(-1, 1, (3, 28, 28, 1)).astype(np.float32)
  # One batch: the three images, again with the third one changed, again with other labels.
  images = np.concatenate([x, x[:2], np.zeros_like(x[:1]), x])  # [9, 28, 28, 1]
  labels = np.array([0, 1, 2, 0, 1, 2, 5, 6, 7], np.int32)
  params = run_once(critic.init, jax.random.key(1), images, labels)  # initialisers compile slowly
  scores = jax.jit(critic.apply)(params, images, labels)  # [9]
  # Each image is scored on its own, as the gradient penalty assumes: changing another image
  # of the batch leaves its score.
  np.testing.assert_allclose(scores[3:5], scores[:2], rtol=1e-5, atol=1e-6)
  assert not np.allclose(scores[6:], scores[:3])  # the label changes the score


def test_diffaugment_is_a_differentiable_linear_map_of_the_images():
  """Translation and cutout move and zero pixels, a linear map T: jax.grad of <T x, v> is T^T v,
  so <T x, v> = <x, grad>."""
  rng = np.random.default_rng(0)
  x, v = (rng.normal(size=(4, 28, 28, 1)).astype(np.float32) for _ in range(2))

  @jax.jit
  def check(x, v, key):
    augment = lambda images: diffaugment.diff_augment(key, images, POLICY)
    transpose_v = jax.grad(lambda images: jnp.sum(augment(images) * v))(x)
    colour = jax.grad(lambda images: jnp.sum(
        diffaugment.diff_augment(key, images, ("color",) + POLICY) ** 2))(x)
    return jnp.sum(augment(x) * v), jnp.sum(x * transpose_v), transpose_v, colour

  tx_v, x_ttv, transpose_v, colour = check(x, v, jax.random.key(2))
  np.testing.assert_allclose(tx_v, x_ttv, rtol=1e-5)
  for grad in (transpose_v, colour):
    assert bool(jnp.all(jnp.isfinite(grad))) and float(jnp.abs(grad).sum()) > 0


def test_translation_and_cutout_by_hand():
  image = jnp.zeros((1, 28, 28, 1)).at[0, 10, 12, 0].set(1.0)
  moved = diffaugment.apply(image, {"translation": jnp.array([[3, -4]])})
  assert float(moved[0, 13, 8, 0]) == 1.0 and float(moved.sum()) == 1.0
  gone = diffaugment.apply(image, {"translation": jnp.array([[-11, 0]])})  # out of the frame
  assert float(jnp.abs(gone).sum()) == 0.0
  # A 14x14 square centred at (2, 27), clipped at the border: rows 0..8, columns 20..27.
  cut = diffaugment.apply(jnp.ones((1, 28, 28, 1)), {"cutout": jnp.array([[2, 27]])})
  assert float(cut[0, :9, 20:].sum()) == 0.0 and float(cut.sum()) == 28 * 28 - 9 * 8


def test_diffaugment_on_a_concatenation_is_the_same_transform_per_image():
  """One call on [real; fake] transforms each image by its own i.i.d. parameters: the same map
  as separate calls, and the same distribution of shifts for both halves."""
  rng = np.random.default_rng(0)
  a, b = (rng.normal(size=(3, 28, 28, 1)).astype(np.float32) for _ in range(2))
  steps = GanSteps(None, None, GanSettings(4, 0, AdversarialLoss.WGAN_GP, 1e-4, augment=POLICY))

  @jax.jit
  def run(a, b, keys):
    params = diffaugment.sample_params(keys[0], (6, 28, 28, 1), ("color",) + POLICY)
    first, second = (jax.tree.map(lambda p, s=s: p[s], params)
                     for s in (slice(0, 3), slice(3, 6)))
    both = diffaugment.apply(jnp.concatenate([a, b]), params)
    apart = jnp.concatenate([diffaugment.apply(a, first), diffaugment.apply(b, second)])
    # GanSteps augments real and fake through exactly one call on their concatenation.
    pair = jnp.concatenate(steps._augment_pair(a, b, keys[1]))
    expected = diffaugment.diff_augment(keys[1], jnp.concatenate([a, b]), POLICY)
    shifts = diffaugment.sample_params(keys[2], (2000, 28, 28, 1), POLICY)
    return both, apart, pair, expected, shifts["translation"]

  both, apart, pair, expected, shifts = run(a, b, jax.random.split(jax.random.key(2), 3))
  np.testing.assert_allclose(both, apart, atol=1e-6)
  np.testing.assert_array_equal(pair, expected)
  # Shifts of 2,000 images: each half takes the 9 values of dy equally often (1/9 +- 4 sd).
  for half in (shifts[:1000, 0], shifts[1000:, 0]):
    frequencies = np.bincount(np.asarray(half) + 4, minlength=9) / 1000
    assert np.abs(frequencies - 1 / 9).max() < 4 * np.sqrt(1 / 9 * 8 / 9 / 1000), frequencies


def test_label_in_every_block_and_the_convolutional_critic():
  """With label_in_blocks every block has a modulation of the label's own embedding (zero at
  initialisation); the convolutional critic scores each image alone and reads the label."""
  generator = TransGANGenerator((28, 28, 1), widths=(16, 8, 4), depths=(1, 1, 1),
                                num_heads=(2, 1, 1), window=7, num_classes=10, label_in_blocks=True)
  z, labels = jnp.zeros((3, 4)), jnp.zeros((3,), jnp.int32)
  g_params = jax.eval_shape(generator.init, jax.random.key(0), z, labels)["params"]
  for stage in range(3):
    chex.assert_shape(g_params[f"stage{stage}_block0"]["modulation"]["kernel"],
                      (8, 6 * (16, 8, 4)[stage]))  # from [noise, label] width 8 to 6 x width
  chex.assert_shape(g_params["block_label_embedding"]["embedding"], (10, 8))
  critic = ConvCritic(features=8, num_layers=2, num_classes=10)
  x = np.random.default_rng(0).uniform(-1, 1, (3, 28, 28, 1)).astype(np.float32)
  images = np.concatenate([x, x[:2], np.zeros_like(x[:1]), x])  # [9, 28, 28, 1]
  labels = np.array([0, 1, 2, 0, 1, 2, 5, 6, 7], np.int32)
  params = run_once(critic.init, jax.random.key(1), images, labels)
  scores = jax.jit(critic.apply)(params, images, labels)  # [9]
  np.testing.assert_allclose(scores[3:5], scores[:2], rtol=1e-5, atol=1e-6)
  assert not np.allclose(scores[6:], scores[:3])
  config = tiny_config("transgan_conv", conditional=True)
  assert isinstance(gan_family.make_gan_steps(config, SPEC).discriminator, ConvCritic)
  config.transgan.critic = "resnet"
  with pytest.raises(ValueError, match="'vit' or 'conv'"):
    gan_family.make_gan_steps(config, SPEC)


def test_transgan_configs_build_and_refuse_bad_settings():
  conditional = gan_family.make_gan_steps(tiny_config("ctransgan"), SPEC)
  batch = {"image": jnp.zeros((32, 28, 28, 1)), "label": jnp.zeros((32,), jnp.int32)}
  state = jax.eval_shape(conditional.create_state, jax.random.key(0), batch)
  assert conditional.settings.num_classes == 10 and conditional.settings.n_critic == 4
  assert "label_projection" in state.params["discriminator"]
  assert "label_embedding" in state.params["generator"]
  with pytest.raises(ValueError, match="n_critic"):
    gan_family.make_gan_steps(tiny_config("transgan", batch_size=30), SPEC)
  with pytest.raises(ValueError, match="batch norm"):
    gan_family.make_gan_steps(tiny_config("dcgan", loss="wgan_gp"), SPEC)


@pytest.mark.slow
def test_sharded_conditional_step_equals_single_device():
  """The whole step (n_critic critic updates on their sub-batches, gradient penalties, DiffAugment, the
  generator update and the EMA) with the batch split over 4 devices equals one device's."""
  # Two critic updates on sub-batches of 8 (two per device): the compiles are most of the cost.
  steps = gan_family.make_gan_steps(tiny_config("ctransgan", n_critic=2, batch_size=16), SPEC)
  arrays = SplitData.open("embedded_digits", "validation").arrays()
  batch = {"image": arrays["image"][:16], "label": arrays["label"][:16].astype(np.int32)}
  state = run_once(steps.create_state, jax.random.key(0), batch)
  single, single_metrics = jax.jit(steps.train_step)(state, batch, jax.random.key(1))
  mesh = make_mesh()
  assert mesh.size == 4  # conftest forces 4 CPU devices
  sharded_step = jax.jit(steps.train_step, in_shardings=(replicated(mesh), batch_sharded(mesh),
                                                         replicated(mesh)))
  sharded, sharded_metrics = sharded_step(state, batch, jax.random.key(1))
  chex.assert_trees_all_close(single_metrics, sharded_metrics, atol=1e-5, rtol=1e-4)
  for tree in ("params", "ema_params"):
    chex.assert_trees_all_close(*(_without_key_bias(getattr(s, tree)) for s in (single, sharded)),
                                atol=1e-5, rtol=1e-4)


def _without_key_bias(params):
  """params with the keys' bias (the middle third of each fused qkv bias) set to 0. Adding a
  constant to every key adds q.b to all of a query's logits, which softmax ignores: that bias's
  gradient is 0 up to round-off, and Adam scales round-off, which differs with the device split,
  into full-size steps."""
  def clear(path, leaf):
    names = [getattr(p, "key", "") for p in path]
    if names[-2:] == ["qkv", "bias"]:
      third = leaf.shape[-1] // 3
      return leaf.at[..., third:2 * third].set(0.0)
    return leaf
  return jax.tree_util.tree_map_with_path(clear, params)


@pytest.mark.slow
def test_tiny_transgan_through_the_loop_learns_digits_and_compiles_once(tmp_path, monkeypatch):
  """40 steps of the tiny config through train_and_evaluate: the EMA generator's samples move
  towards real digits, each step made 4 critic updates and one generator update, and the train
  step was traced once (the loop jits it; assert_max_traces raises on a second trace)."""
  build = gan_family.make_family

  def traced_once(config, spec) -> Family:
    family = build(config, spec)
    return Family(**{**family.__dict__,
                     "train_step": chex.assert_max_traces(family.train_step, n=1)})

  monkeypatch.setattr(gan_family, "make_family", traced_once)
  initial = []  # the loop's initial state, for the samples before training
  build_state = loop.run_once

  def keep_initial(*args, **kwargs):
    state = build_state(*args, **kwargs)
    # A host copy: the loop donates the state's buffers to the first step.
    initial.append(jax.tree.map(lambda x: np.array(x, copy=True), state))
    return state

  monkeypatch.setattr(loop, "run_once", keep_initial)
  steps = 40
  config = tiny_config("transgan", learning_rate=1e-3, num_train_steps=steps,
                       eval_every_steps=steps, checkpoint_every_steps=steps)
  workdir = str(tmp_path / "transgan")
  final = train_and_evaluate(config, workdir)
  assert np.isfinite(final["wasserstein"])
  trained = restore_trained(workdir)
  state = trained.state
  counts = {p: int(state.opt_state[p][0].count) for p in ("generator", "discriminator")}
  assert counts == {"generator": steps, "discriminator": 4 * steps}, counts
  assert any(not np.allclose(e, p) for e, p in zip(
      jax.tree.leaves(state.ema_params["generator"]), jax.tree.leaves(state.params["generator"])))
  real = SplitData.open("embedded_digits", "validation").arrays()["image"]  # [500, 28, 28, 1]
  sample = jax.jit(trained.family.sample, static_argnums=2)
  before = pixel_frechet(np.asarray(sample(initial[0], jax.random.key(1), 500)), real)
  after = pixel_frechet(np.asarray(sample(state, jax.random.key(1), 500)), real)
  print("pixel frechet before, after", before, after)
  assert after < 0.6 * before, (before, after)


def test_conv_critic_penalty_has_no_convolution():
  """ConvCritic halves the resolution by space-to-depth and a 2x2 convolution made of shifted
  copies and a matmul (odd sides padded: 28 -> 14 -> 7 -> 4), so the gradient penalty's double
  backward pass holds no convolution for XLA's CPU backend to run on a slow path (the strided
  critic of the benchmark holds dilated ones); the shifted copies are a 2x2 SAME convolution."""
  from experiments.bench.critic_penalty import StridedCritic, penalty_gradient
  from jaxgen.nets.transgan import shifted_2x2
  images = jnp.zeros((2, 28, 28, 1))
  critic = ConvCritic(features=4, num_layers=3)
  params = jax.eval_shape(critic.init, jax.random.key(0), images)["params"]
  chex.assert_shape([params["conv0"]["kernel"], params["conv1"]["kernel"],
                     params["conv2"]["kernel"]], [(16, 4), (64, 8), (128, 16)])
  chex.assert_shape(critic.apply({"params": jax.tree.map(jnp.ones_like, params)}, images), (2,))

  def hlo(module) -> str:
    step = penalty_gradient(module, images)  # a function of the call index, jitted inside
    return jax.jit(step).lower(0).as_text()

  assert "convolution" not in hlo(critic)
  assert re.search(r"[lr]hs_dilate = \[(?!1, 1\])", hlo(StridedCritic(4, 3)))
  x = jax.random.normal(jax.random.key(1), (2, 5, 6, 3))
  conv = nn.Conv(7, (2, 2), padding=((0, 1), (0, 1)))
  conv_params = conv.init(jax.random.key(2), x)
  kernel = conv_params["params"]["kernel"].reshape(12, 7)  # (i, j, c) in shifted_2x2's order
  np.testing.assert_allclose(shifted_2x2(x) @ kernel + conv_params["params"]["bias"],
                             conv.apply(conv_params, x), rtol=1e-5, atol=1e-5)
