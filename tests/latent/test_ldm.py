"""Latent diffusion: the spatial transformer, and a tiny chain on a tiny autoencoder."""

import json
import os
import subprocess
import sys

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments import records, report, score, tables
from experiments.bench import latent_speed
from jaxgen.errors import UserError
from jaxgen.latent import ldm_family, prompts
from jaxgen.latent.autoencoder import load_autoencoder
from jaxgen.nets.ldm import LatentDiffusionNet
from jaxgen.nets.unet import SpatialTransformer, UNet
from jaxgen.train.loop import train_and_evaluate
from jaxgen.train import loop
from jaxgen.train.restore import restore_trained
from tests.helpers import (assert_plausible_images, assert_proportion_with_interval, tiny_config,
                           trace_train_step_once, untrained_scorer)


def test_fresh_spatial_transformer_is_the_identity_and_attends_to_context():
  """The zero-initialised output projection makes a fresh block the identity; once it is not
  zero, the output depends on the context (the cross-attention is wired in)."""
  x = jax.random.normal(jax.random.key(0), (2, 8, 8, 32))
  ctx = jax.random.normal(jax.random.key(1), (2, 5, 24))
  block = SpatialTransformer(head_dim=16)
  # Jitted: eagerly, every layer op compiles on its own.
  params = jax.jit(lambda k: block.init(k, x, ctx, False))(jax.random.key(2))["params"]
  apply = jax.jit(lambda p, c: block.apply({"params": p}, x, c, False))
  np.testing.assert_array_equal(apply(params, ctx), x)
  params = jax.tree_util.tree_map_with_path(
      lambda p, v: jnp.ones_like(v) * 0.1 if "proj_out" in str(p) else v, params)
  a, b = apply(params, ctx), apply(params, ctx * 2.0)
  assert float(jnp.max(jnp.abs(a - x))) > 1e-3 and float(jnp.max(jnp.abs(a - b))) > 1e-4
  assert "cross_attn" in params["block"] and "Dense_0" in params["block"]["mlp"]
  # Gated feed-forward: the first Dense is twice the hidden width (4 * 32).
  assert params["block"]["mlp"]["Dense_0"]["kernel"].shape == (32, 2 * 128)


def test_unet_without_context_keeps_its_parameters():
  """Earlier checkpoints still load: a context-free U-Net has no spatial-transformer params."""
  unet = UNet(1, 16, (1, 2), 1, (14,), head_dim=16)
  x, t = jnp.zeros((1, 28, 28, 1)), jnp.zeros((1,), jnp.int32)
  names = set(jax.eval_shape(lambda: unet.init(jax.random.key(0), x, t))["params"])
  assert not any("SpatialTransformer" in n for n in names) and "AttentionBlock_0" in names


@pytest.mark.parametrize("context", ["label", "text"])
def test_network_shapes(context):
  net = LatentDiffusionNet(4, context, 10, prompts.vocab_size(), 32, 1, 2, 16, (1, 2), 1,
                           (8, 4), head_dim=16)
  cond = (jnp.arange(3) if context == "label"
          else jnp.asarray(prompts.template_tokens(prompts.TRAIN_TEMPLATES)[0, :3]))
  x, t = jnp.zeros((3, 8, 8, 4)), jnp.zeros((3,), jnp.int32)
  out, _ = jax.eval_shape(lambda: net.init_with_output(jax.random.key(0), x, t, cond))
  chex.assert_shape(out, (3, 8, 8, 4))
  # A sampler encodes the condition once and denoises with it at every step: the same output.
  x = jax.random.normal(jax.random.key(1), x.shape)
  params = net.init(jax.random.key(0), x, t, cond)
  encoded = net.apply(params, cond, method="encode")
  chex.assert_shape(encoded, (3, 1 if context == "label" else prompts.MAX_TOKENS, 32))
  np.testing.assert_allclose(net.apply(params, x, t + 5, encoded, method="denoise"),
                             net.apply(params, x, t + 5, cond), rtol=1e-5, atol=1e-6)


def test_pooled_context_and_reading_head():
  """pooled_context adds a route from the whole prompt to the time embedding (a prompt changes
  the output even where cross-attention is cut); `read` gives one logit row per head."""
  # Width 40: at 16 or 32 channels group_norm has one channel a group, which cancels any
  # per-channel shift, the time embedding's included.
  net = LatentDiffusionNet(4, "text", 10, prompts.vocab_size(), 32, 1, 2, 40, (1, 2), 1, (),
                           head_dim=20, pooled_context=True, read_classes=(10, 3, 3, 3))
  cond = jnp.asarray(prompts.template_tokens(prompts.TRAIN_TEMPLATES)[0, :3])
  x, t = jax.random.normal(jax.random.key(1), (3, 8, 8, 4)), jnp.zeros((3,), jnp.int32)

  def all_parts(module, x, cond):
    context = module.encode(cond)
    return module.denoise(x, t, context), module.read(context)

  params = net.init(jax.random.key(0), x, cond, method=all_parts)["params"]
  assert "pool_proj" in params and "read_head" in params
  # Random weights (zero-initialised layers would hide the route), the middle block's
  # cross-attention cut: only the pooled route carries the prompt now.
  leaves, tree = jax.tree.flatten_with_path(params)
  keys = jax.random.split(jax.random.key(2), len(leaves))
  params = jax.tree.unflatten(tree, [
      jnp.zeros_like(v) if "proj_out" in str(p) else 0.1 * jax.random.normal(k, v.shape)
      for (p, v), k in zip(leaves, keys)])
  out, logits = net.apply({"params": params}, x, cond, method=all_parts)
  other, _ = net.apply({"params": params}, x, cond[::-1], method=all_parts)
  assert float(jnp.max(jnp.abs(out[0] - other[0]))) > 1e-4
  assert [lg.shape for lg in logits] == [(3, 10), (3, 3), (3, 3), (3, 3)]


def test_caption_read_loss_against_numpy():
  """Cross-entropy per head over the prompts that say it; dropped prompts and unsaid
  properties count for nothing."""
  rng = np.random.default_rng(0)
  logits = tuple(jnp.asarray(rng.normal(size=(4, k)), jnp.float32) for k in (10, 3, 3, 3))
  labels = jnp.array([1, 2, 3, 4])
  said = jnp.array([[0, -1, 2], [1, 1, -1], [-1, -1, -1], [2, 0, 1]])
  kept = jnp.array([True, True, False, True])
  loss, aux = ldm_family.caption_read_loss(logits, labels, said, kept)

  def ce(lg, y):
    lg = np.asarray(lg, np.float64)
    return np.log(np.exp(lg).sum()) - lg[y]

  expected = np.mean([ce(logits[0][i], int(labels[i])) for i in (0, 1, 3)])
  for j in range(3):
    rows = [i for i in (0, 1, 3) if int(said[i, j]) >= 0]
    expected += np.mean([ce(logits[j + 1][i], int(said[i, j])) for i in rows])
  np.testing.assert_allclose(float(loss), expected, rtol=1e-5)
  right = np.argmax(np.asarray(logits[0]), -1) == np.asarray(labels)
  assert float(aux["read_digit_accuracy"]) == pytest.approx(right[[0, 1, 3]].mean())


@pytest.mark.slow
def test_tiny_chain_learns_compiles_once_samples_and_reports(tmp_path, monkeypatch,
                                                             tiny_autoencoder):
  """20 tiny LDM steps on the tiny autoencoder's latents: the validation loss falls, the step
  traces once, prompts (and labels, through held-out templates) decode to images, and the
  report makes its record with the speed against pixel-space diffusion."""
  trace_train_step_once(monkeypatch, ldm_family)
  workdir = str(tmp_path / "ldm")
  train_and_evaluate(tiny_config("ldm", autoencoder_workdir=tiny_autoencoder), workdir)
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    evals = [m for m in map(json.loads, f) if m["split"] == "eval"]
  print([(m["step"], m["loss"]) for m in evals])
  # Seen: 0.936 at step 10, 0.740 at step 20 (1.0 is predicting no noise at all).
  assert evals[-1]["loss"] < evals[0]["loss"] - 0.05
  trained = restore_trained(workdir)
  tokens = np.stack([prompts.tokenize("a handwritten seven"), prompts.empty_prompt()])
  images = trained.family.sample(trained.state, jax.random.key(0), 2, prompt_tokens=tokens,
                                 guidance_scale=1.0)
  chex.assert_shape(images, (2, 28, 28, 1))
  assert_plausible_images(images)
  # experiments.sample --prompts: any text, one prompt a line, n images of each.
  prompt_file = tmp_path / "prompts.txt"
  prompt_file.write_text("someone wrote a scribbled three\n\nein fetter Siebener\n")
  out = tmp_path / "p.npz"
  command = [sys.executable, "-m", "experiments.sample", f"--workdir={workdir}",
             "--num_samples=2", f"--output={out}", "--steps=3"]
  done = subprocess.run(command + [f"--prompts={prompt_file}"], capture_output=True, text=True,
                        timeout=600)
  assert done.returncode == 0, done.stderr[-2000:]
  saved = np.load(out)
  assert saved["images"].shape == (4, 28, 28, 1) and list(saved["prompts"]) == [
      "someone wrote a scribbled three"] * 2 + ["ein fetter Siebener"] * 2
  prompt_file.write_text("\n \n")
  refused = subprocess.run(command + [f"--prompts={prompt_file}"], capture_output=True,
                           text=True, timeout=600)
  assert refused.returncode == 2 and "holds no prompt" in refused.stderr.strip().splitlines()[-1]
  # Labels reach a text model through the held-out templates, one template per example.
  held_out = ldm_family.held_out_prompts(jnp.array([7, 7]), ldm_family.held_out_table("text", 0))
  np.testing.assert_array_equal(held_out[0], prompts.tokenize(
      prompts.fill(prompts.HELD_OUT_TEMPLATES[0], 7)))
  np.testing.assert_array_equal(held_out[1], prompts.tokenize(
      prompts.fill(prompts.HELD_OUT_TEMPLATES[1], 7)))
  with pytest.raises(UserError, match="kl_autoencoder run"):
    load_autoencoder(workdir)
  with pytest.raises(UserError, match="clip_x0"):
    config = tiny_config("ldm", autoencoder_workdir=tiny_autoencoder)
    config.diffusion.clip_x0 = True
    ldm_family.make_family(config, trained.spec)
  # The latent-vs-pixel bench times both samplers (the pixel one the tiny CFG DDPM here), and
  # an ldm record carries its figures into the Diffusion table.
  speed = latent_speed.pixel_vs_latent(trained, 3, 4, reps=2, pixel_config_arg="tiny")
  assert speed["latent_images_per_s"] > 0 and speed["pixel_images_per_s"] > 0
  assert speed["speedup"] == pytest.approx(
      speed["latent_images_per_s"] / speed["pixel_images_per_s"], rel=0.01)
  monkeypatch.setattr(loop, "trained_scorer", untrained_scorer)
  monkeypatch.setattr(latent_speed, "pixel_vs_latent",
                      lambda t, steps, batch, **_: {**speed, "steps": steps, "batch": batch})
  results = str(tmp_path / "results")
  record = report.report_workdir(workdir, 10, 0, "ddim:3:w=1", None, 0, results, "ldm_tiny",
                                 "cmd")
  assert record["sampler"] == "ddim3 w=1" and record["speed_vs_pixel"]["steps"] == 3
  assert_proportion_with_interval(record, "cond_accuracy", 10)
  text = tables.markdown_tables(records.load(results))
  assert "| ldm_tiny | 20 (" in text and "ldm_tiny samples" in text
  # Measured captions: adherence per prompt set, and the sweep's picture.
  for name in ("train_phrasings", "held_out_phrasings", "held_out_combinations"):
    prompt_set = record["prompts"][name]
    assert 0 <= prompt_set["cond_accuracy"] <= 1 and prompt_set["fcd"] > 0
    assert set(prompt_set["adherence"]) <= {"thickness", "slant", "size"}
  assert {"thickness", "slant"} <= set(record["prompts"]["train_phrasings"]["adherence"])
  assert os.path.exists(os.path.join(results, record["prompt_sweep"]["grid"]))
  assert "| ldm_tiny | held out combinations |" in text
  with pytest.raises(UserError, match="cls="):
    report.report_workdir(workdir, 10, 0, "ddim:3:cls=1", None, 0, results, "x", "cmd")
  # experiments.score tunes an ldm on validation: per setting, prompt adherence there too.
  settings = [score.parse_setting("ddim:3:w=1"), score.parse_setting("ddim:3:w=2")]
  rows = score.score_settings(trained, untrained_scorer("embedded_digits"), settings, 10, 0,
                              workdir, adherence_split="validation")
  assert [r["setting"] for r in rows] == ["ddim3 w=1", "ddim3 w=2"]
  for row in rows:
    assert set(row["prompts"]) >= {"train_phrasings", "held_out_phrasings",
                                   "held_out_combinations"}
    assert 0 <= row["prompts"]["held_out_phrasings"]["cond_accuracy"] <= 1
