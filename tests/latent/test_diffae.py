"""Diffusion Autoencoders: adaptive group norm, the conditioned U-Net, tiny runs of both configs."""

import dataclasses
import json
import os

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments import evaluations, publish, report
from jaxgen.diffusion import samplers
from jaxgen.errors import UserError
from jaxgen.latent import diffae_family, diffae_latent_family
from jaxgen.nets.unet import ResBlock, UNet, adaptive_group_norm
from jaxgen.train import loop
from jaxgen.train.loop import train_and_evaluate
from jaxgen.train.restore import restore_trained
from tests.helpers import (assert_proportion_with_interval, tiny_config, trace_train_step_once,
                           untrained_scorer)


def test_adaptive_group_norm_is_the_time_scale_shift_at_unit_code():
  """z_s * (t_s * GN(h) + t_b): with z_s = 1 exactly the time-conditioned scale-shift norm; a
  code scales each channel."""
  key = jax.random.split(jax.random.key(0), 3)
  normed = jax.random.normal(key[0], (2, 4, 4, 8))
  t_s, t_b = jax.random.normal(key[1], (2, 8)), jax.random.normal(key[2], (2, 8))
  out = adaptive_group_norm(normed, t_s, t_b, jnp.ones((2, 8)))
  chex.assert_shape(out, (2, 4, 4, 8))
  np.testing.assert_allclose(out, t_s[:, None, None] * normed + t_b[:, None, None], rtol=1e-6)
  z_s = jnp.arange(8.0)[None].repeat(2, 0)
  np.testing.assert_allclose(adaptive_group_norm(normed, t_s, t_b, z_s), z_s[:, None, None] * out,
                             rtol=1e-6, atol=1e-6)


def test_semantic_code_conditions_every_block_once_trained():
  """A fresh block ignores z_sem (its projections start at zero); once they are not zero, two
  codes give two outputs; the U-Net's output keeps the image shape."""
  x = jax.random.normal(jax.random.key(0), (2, 8, 8, 16))
  emb = jax.random.normal(jax.random.key(1), (2, 32))
  z = jax.random.normal(jax.random.key(2), (2, 6))
  block = ResBlock(16)
  # Jitted: eagerly, every layer op compiles on its own.
  params = jax.jit(lambda k: block.init(k, x, emb, False, z))(jax.random.key(3))["params"]
  assert "semantic_scale" in params and "time_scale_shift" in params
  apply = jax.jit(lambda p, code: block.apply({"params": p}, x, emb, False, code))
  np.testing.assert_allclose(apply(params, z), apply(params, 2 * z), atol=1e-6)
  params["semantic_scale"]["kernel"] = jnp.full_like(params["semantic_scale"]["kernel"], 0.1)
  params["Conv_1"]["kernel"] = jax.random.normal(jax.random.key(4),
                                                 params["Conv_1"]["kernel"].shape) * 0.1
  a, b = apply(params, z), apply(params, 2 * z)
  assert float(jnp.max(jnp.abs(a - b))) > 1e-3
  unet = UNet(1, 16, (1, 2), 1, (14,), head_dim=16)
  out, _ = jax.eval_shape(lambda: unet.init_with_output(
      jax.random.key(0), jnp.zeros((2, 28, 28, 1)), jnp.zeros((2,), jnp.int32), semantic=z))
  chex.assert_shape(out, (2, 28, 28, 1))


@pytest.mark.slow
def test_tiny_diffae_and_latent_ddim_learn_compile_once_and_sample(tmp_path, monkeypatch):
  """20 tiny DiffAE steps lower the validation loss with one trace of the step and report an
  inversion PSNR; its reconstructions from (z_sem, x_T) and from z_sem with a random x_T have
  the image's shape; then 20 latent-DDIM steps on its codes lower their loss and sample."""
  trace_train_step_once(monkeypatch, diffae_family)
  workdir = str(tmp_path / "diffae")
  train_and_evaluate(tiny_config("diffae"), workdir)
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    evals = [m for m in map(json.loads, f) if m["split"] == "eval"]
  print([(m["step"], m["loss"], m["inversion_psnr"]) for m in evals])
  # Seen: 0.925 at step 10, 0.656 at step 20.
  assert evals[-1]["loss"] < evals[0]["loss"] - 0.1
  assert np.isfinite(evals[-1]["inversion_psnr"]) and evals[-1]["inversion_psnr_se"] > 0
  assert os.path.exists(os.path.join(workdir, "samples", "recon_step_000020.png"))
  trained = restore_trained(workdir)
  auto = diffae_family.make_semantic_autoencoder(trained.config, trained.spec)
  images = jnp.full((2, 28, 28, 1), 0.5)
  chex.assert_shape(auto.reconstruct(trained.state.ema_params, images), (2, 28, 28, 1))
  # Decoding from a random x_T clips x_0 at each step (the authors' renderer); the same call
  # through the sampler with a clipping spec gives the same images, the unclipped one others.
  params, z_sem = trained.state.ema_params, auto.encode(trained.state.ema_params, images)
  x_T = 3.0 * jax.random.normal(jax.random.key(1), images.shape)
  sched, ts = auto._chain()
  fn = auto._model_fn(params, z_sem, ts)
  clipped = samplers.ddim_sample(dataclasses.replace(auto.spec, clip_x0=True), sched, fn, x_T,
                                 jax.random.key(0), 0.0)
  np.testing.assert_allclose(auto.decode(params, x_T, z_sem, clip=True),
                             np.clip((clipped + 1) / 2, 0, 1), atol=1e-5)
  assert float(jnp.max(jnp.abs(auto.decode(params, x_T, z_sem)
                               - auto.decode(params, x_T, z_sem, clip=True)))) > 1e-3

  # Its record: inversion PSNR, the scorer on decodings from z_sem, the edit sweep, a table row.
  monkeypatch.setattr(loop, "trained_scorer", untrained_scorer)
  results = str(tmp_path / "results")
  record = report.report_workdir(workdir, 12, 0, None, None, 0, results, "diffae_tiny", "cmd")
  assert record["num_test"] == 12 and np.isfinite(record["inversion_psnr"])
  assert [e["amount"] for e in record["edit_sweep"]] == list(evaluations.EDIT_AMOUNTS)
  assert_proportion_with_interval(record, "from_code_cond_accuracy", 12)
  assert os.path.exists(os.path.join(results, "diffae_tiny.png"))
  text = publish.write_tables(results, update_readme=False)
  assert "**Diffusion autoencoders" in text and "| diffae_tiny | 20 (" in text

  latent = str(tmp_path / "diffae_latent")
  train_and_evaluate(tiny_config("diffae_latent", diffae_workdir=workdir), latent)
  with open(os.path.join(latent, "metrics.jsonl")) as f:
    evals = [m for m in map(json.loads, f) if m["split"] == "eval"]
  print([(m["step"], m["loss"]) for m in evals])
  # Seen: 1.005 at step 10, 0.948 at step 20 (1.0: predicting no noise).
  assert evals[-1]["loss"] < evals[0]["loss"] - 0.02
  lat = restore_trained(latent)
  stats = lat.state.extras
  assert stats["code_mean"].shape == (16,) and float(stats["code_std"].min()) > 0
  chex.assert_shape(lat.family.sample(lat.state, jax.random.key(0), 3), (3, 28, 28, 1))
  with pytest.raises(UserError, match="diffae run"):
    diffae_latent_family.load_diffae(latent)
  with pytest.raises(UserError, match="clip_x0"):
    config = tiny_config("diffae")
    config.diffusion.clip_x0 = True
    diffae_family.make_family(config, trained.spec)
