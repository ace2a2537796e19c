"""The VQ tokenizer: quantisation and its gradients, the EMA codebook, dead-code restarts, and a
tiny run on real digits through the loop."""

import json
import os

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.nets.vq import VQAutoencoder
from jaxgen.tokens import family as vq_family
from jaxgen.tokens import vq
from jaxgen.train import loop
from jaxgen.train.family import DataSpec
from jaxgen.train.loop import train_and_evaluate
from jaxgen.train.restore import restore_trained
from tests.helpers import (assert_proportion_with_interval, tiny_config, trace_train_step_once,
                           untrained_scorer)

SPEC = DataSpec((28, 28, 1), 10)


def _z_and_codebook():
  rng = np.random.default_rng(0)
  return (jnp.asarray(rng.normal(size=(2, 3, 3, 4)), jnp.float32),
          jnp.asarray(rng.normal(size=(5, 4)), jnp.float32))


def test_nearest_codes_and_the_forward_value():
  z, codebook = _z_and_codebook()
  q = vq.quantize(z, codebook)
  distances = np.sum((np.asarray(z)[..., None, :] - np.asarray(codebook)) ** 2, axis=-1)
  np.testing.assert_array_equal(q["indices"], distances.argmin(-1))
  np.testing.assert_allclose(q["z_q"], codebook[q["indices"]], rtol=1e-6, atol=1e-6)
  e = np.asarray(codebook)[np.asarray(q["indices"])]
  np.testing.assert_allclose(q["codebook_loss"], np.mean((np.asarray(z) - e) ** 2), rtol=1e-5)
  np.testing.assert_allclose(q["commitment_loss"], q["codebook_loss"], rtol=1e-6)


def test_straight_through_and_each_loss_reaches_only_its_own_side():
  z, codebook = _z_and_codebook()
  w = jax.random.normal(jax.random.key(0), z.shape)

  def decoder_loss(z, codebook):
    return jnp.sum(w * vq.quantize(z, codebook)["z_q"])  # a linear "decoder" of z_q

  dz, dcodebook = jax.grad(decoder_loss, argnums=(0, 1))(z, codebook)
  np.testing.assert_allclose(dz, w, rtol=1e-6)  # the decoder's gradient passes to the encoder
  np.testing.assert_allclose(dcodebook, 0.0)  # and none of it to the codebook
  term = lambda name: jax.grad(lambda z, c: vq.quantize(z, c)[name], argnums=(0, 1))(z, codebook)
  dz, dcodebook = term("codebook_loss")
  np.testing.assert_allclose(dz, 0.0)  # the codebook loss moves only the codebook
  used = np.unique(np.asarray(vq.quantize(z, codebook)["indices"]))
  assert np.all(np.abs(np.asarray(dcodebook)[used]).sum(-1) > 0)
  unused = np.setdiff1d(np.arange(5), used)
  np.testing.assert_allclose(np.asarray(dcodebook)[unused], 0.0)
  dz, dcodebook = term("commitment_loss")
  np.testing.assert_allclose(dcodebook, 0.0)  # the commitment loss moves only the encoder
  assert float(jnp.abs(dz).sum()) > 0


def test_ema_codebook_with_no_memory_is_the_mean_of_each_cluster():
  z = jnp.array([[1.0, 0.0], [3.0, 0.0], [0.0, 5.0]])
  indices = jnp.array([0, 0, 2])
  stats = {"cluster_size": jnp.ones(3), "embed_sum": jnp.ones((3, 2)), "codebook": jnp.ones((3, 2))}
  out = vq.ema_codebook(stats, z, indices, decay=0.0, epsilon=0.0)
  np.testing.assert_allclose(out["cluster_size"], [2.0, 0.0, 1.0])
  np.testing.assert_allclose(out["codebook"][0], [2.0, 0.0])  # mean of (1, 0) and (3, 0)
  np.testing.assert_allclose(out["codebook"][2], [0.0, 5.0])
  # With memory: half the old statistics, half the new.
  half = vq.ema_codebook(stats, z, indices, decay=0.5, epsilon=0.0)
  np.testing.assert_allclose(half["cluster_size"], [1.5, 0.5, 1.0])
  np.testing.assert_allclose(half["embed_sum"][0], [2.5, 0.5])


def test_dead_codes_restart_at_encoder_vectors_and_live_ones_stay():
  codebook = jnp.arange(8.0).reshape(4, 2)
  usage = jnp.array([0.5, 0.0, 0.5, 0.001])
  z = jnp.full((10, 2), 7.0).at[:, 1].set(jnp.arange(10.0))
  new, new_usage = vq.restart_dead_codes(codebook, usage, z, jax.random.key(0), threshold=0.01)
  np.testing.assert_array_equal(np.asarray(new)[[0, 2]], np.asarray(codebook)[[0, 2]])
  for i in (1, 3):
    assert float(new[i, 0]) == 7.0 and 0 <= float(new[i, 1]) <= 9  # one of z's rows
  np.testing.assert_allclose(new_usage, [0.5, 0.25, 0.5, 0.25])


@pytest.mark.parametrize("counts,expected", [([3, 3, 3, 3], 4.0), ([0, 7, 0, 0], 1.0),
                                             ([1, 1, 0, 0], 2.0)])
def test_perplexity(counts, expected):
  np.testing.assert_allclose(vq.perplexity(jnp.asarray(counts, jnp.float32)), expected, rtol=1e-6)


def test_resblock_projects_its_input_when_the_width_changes():
  model = VQAutoencoder((28, 28, 1), channels=(8, 16), embed_dim=4)
  x = jnp.zeros((1, 28, 28, 1))
  params = jax.eval_shape(model.init, jax.random.key(0), x)["params"]
  # The encoder's second level widens 8 -> 16: its block projects the 8-channel input.
  chex.assert_shape(params["encoder"]["VQResBlock_1"]["shortcut"]["kernel"], (1, 1, 8, 16))
  z = jax.eval_shape(lambda p: model.apply({"params": p}, x, method=VQAutoencoder.encode), params)
  chex.assert_shape(z, (1, 7, 7, 4))


@pytest.mark.parametrize("codebook", ["ema", "loss"])
@pytest.mark.slow
def test_tiny_tokenizer_learns_real_digits_and_compiles_once(tmp_path, monkeypatch, codebook):
  """40 steps through the loop: reconstructions improve between the first and the last eval,
  the first step restarts every code at an encoder vector, usage is counted over the split,
  and the train step is traced once."""
  trace_train_step_once(monkeypatch, vq_family)
  if codebook == "ema":  # reconstructions scored by an untrained tiny classifier (the
    # figures themselves are tested in tests/test_report.py; here, that the eval reports them)
    monkeypatch.setattr(loop, "trained_scorer", untrained_scorer)
  workdir = str(tmp_path / "vqvae")
  config = tiny_config("vqvae", codebook=codebook, num_train_steps=40, eval_every_steps=20,
                       checkpoint_every_steps=40, learning_rate=3e-3,
                       recon_quality=codebook == "ema")
  train_and_evaluate(config, workdir)
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    lines = [json.loads(line) for line in f]
  evals = [m for m in lines if m["split"] == "eval"]
  first, last = evals[0], evals[-1]
  print("psnr", first["psnr"], last["psnr"], "usage", last["codebook_usage"])
  assert last["psnr"] > first["psnr"] + 1.0, (first["psnr"], last["psnr"])
  assert 0.2 < last["codebook_usage"] <= 1.0 and last["split_perplexity"] > 4
  if codebook == "ema":  # the scorer's reading of the reconstructed validation digits
    # Every validation digit's reconstruction was read: a count out of 500.
    assert_proportion_with_interval(last, "recon_cond_accuracy", 500)
    assert np.isfinite(last["recon_fcd"])
    assert last["recon_fcd_ci95_low"] < last["recon_fcd"] < last["recon_fcd_ci95_high"]
  trained = restore_trained(workdir)
  tok = vq_family.build_tokenizer(trained.config, trained.spec)
  images = jnp.zeros((2, 28, 28, 1))
  indices = jax.jit(tok.encode)(trained.state, images)
  chex.assert_shape(indices, (2, 7, 7))
  chex.assert_shape(jax.jit(tok.decode)(trained.state, indices), (2, 28, 28, 1))
