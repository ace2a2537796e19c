"""The KL autoencoder: shapes and padding, its loss, the latent scale factor, and a tiny run."""

import json
import os

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.data import sources
from jaxgen.errors import UserError
from jaxgen.latent import autoencoder
from jaxgen.latent.autoencoder import FirstStage, load_autoencoder
from jaxgen.nets.kl_autoencoder import KLAutoencoder
from jaxgen.train.family import DataSpec
from tests.helpers import tiny_config


def test_digits_pad_to_8x8_latents_and_crop_back():
  model = KLAutoencoder((28, 28, 1), (8, 16), latent_channels=4, padded_size=32)
  x = jnp.zeros((2, 28, 28, 1))
  # Shapes only (eval_shape): run eagerly, each layer op would compile on its own.
  params = jax.eval_shape(model.init, jax.random.key(0), x)["params"]
  mean, log_var = jax.eval_shape(
      lambda p: model.apply({"params": p}, x, method=KLAutoencoder.encode), params)
  chex.assert_shape([mean, log_var], (2, 8, 8, 4))
  decoded = jax.eval_shape(
      lambda p: model.apply({"params": p}, jnp.zeros(mean.shape), method=KLAutoencoder.decode),
      params)
  chex.assert_shape(decoded, (2, 28, 28, 1))
  assert FirstStage(model).latent_shape() == (8, 8, 4)


def test_bad_padding_is_one_line():
  spec = DataSpec((28, 28, 1), 10)
  with pytest.raises(UserError, match="multiple of 4"):
    autoencoder.build_autoencoder(tiny_config("kl_autoencoder", padded_size=30), spec)


def test_loss_is_mean_reconstruction_plus_weighted_kl_per_pixel():
  """loss = mean |x - x^| + kl_weight * KL(per image) / (h * w * c): LDM's per-image sums
  divided by the pixel count (checked with a weight large enough to see)."""
  config = tiny_config("kl_autoencoder", kl_weight=0.5)
  spec = DataSpec((28, 28, 1), 10)
  family = autoencoder.make_family(config, spec)
  images = jax.random.uniform(jax.random.key(1), (4, 28, 28, 1))
  state = jax.jit(family.create_state)(jax.random.key(0), {"image": images})
  _, m = jax.jit(family.train_step)(state, {"image": images, "label": jnp.zeros(4, jnp.int32)},
                           jax.random.key(2))
  latent_dims = 8 * 8 * 4
  expected = m["recon_loss"] + 0.5 * m["kl_per_dim"] * latent_dims / 784
  np.testing.assert_allclose(m["loss"], expected, rtol=1e-5)
  assert float(m["kl_per_dim"]) > 0


@pytest.mark.slow
def test_tiny_run_learns_and_its_scale_makes_latents_unit_variance(tiny_autoencoder):
  """30 tiny steps raise validation PSNR; the stored scale factor brings posterior samples of
  training digits to unit standard deviation; the step traced once (the loop's jit)."""
  with open(os.path.join(tiny_autoencoder, "metrics.jsonl")) as f:
    evals = [m for m in map(json.loads, f) if m["split"] == "eval"]
  print([(m["step"], m["psnr"]) for m in evals])
  # Seen: 9.9 dB at step 15, 14.4 at step 30.
  assert evals[-1]["psnr"] > evals[0]["psnr"] + 1.0
  stage, state = load_autoencoder(tiny_autoencoder)
  frozen = FirstStage.freeze(state)
  images = jnp.asarray(sources.load_arrays("embedded_digits", "train")["image"][:256],
                       jnp.float32) / 255.0
  z = stage.encode(frozen, images, jax.random.key(0))
  assert 0.7 < float(jnp.std(z)) < 1.4
  back = stage.decode(frozen, stage.encode(frozen, images[:8], None))
  chex.assert_shape(back, (8, 28, 28, 1))


def test_missing_first_stage_is_one_line(tmp_path):
  with pytest.raises(UserError, match="no config.json"):
    load_autoencoder(str(tmp_path / "nothing"))


@pytest.mark.slow
def test_record_scores_reconstructions_and_names_the_latent(tiny_autoencoder, monkeypatch,
                                                             tmp_path):
  """The report's record of an autoencoder: PSNR over the test split, the scorer's figures on
  the reconstructions, the latent shape and scale factor, and its row in the tables."""
  from experiments import publish, report
  from jaxgen.train import loop
  from tests.helpers import untrained_scorer
  monkeypatch.setattr(loop, "trained_scorer", untrained_scorer)
  results = str(tmp_path / "results")
  record = report.report_workdir(tiny_autoencoder, 10, 0, None, None, 0, results, "kl_tiny",
                                 "cmd")
  assert record["family"] == "kl_autoencoder" and record["latent_shape"] == [8, 8, 4]
  assert record["psnr"] > 10 and record["scale_factor"] > 0
  assert record["recon_fcd_floor"] < record["recon_fcd_ceiling"]
  text = publish.write_tables(results, update_readme=False)
  assert "| kl_tiny | 30 (" in text and "8x8x4, scale factor" in text
