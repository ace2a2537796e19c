"""Every experiment at its tiny size, built and trained a few steps on its real data.

The fast tier's guard for the whole catalogue: each config's family is built through the
registry, its state created, and its jitted train step run on one fixed batch with one fixed key.
On a fixed batch and key the objective is a fixed function of the parameters, so a few optimiser
steps must lower it: a broken shape, a NaN, a detached gradient or an update that goes the wrong
way fails here in seconds. (What is minimised is checked elsewhere: a flipped sign inside a loss
still falls when minimised, and the closed-form unit tests of the losses catch it. The end-to-end
chains that show learning on fresh batches, eval steps and samplers are in the slow tier.)
"""

import os

import jax
import numpy as np
import pytest

from jaxgen.data.pipeline import global_step_index
from jaxgen.train.compile import run_once
from jaxgen.train.family import make_family
from jaxgen.train.loop import open_data
from tests.helpers import changed_leaves, ldm_label_model, shared_run, tiny_config

# Every config in experiments/configs/ but the shared bases (common, *_base).
CONFIGS = ["classifier", "vit", "ae", "vae", "cvae", "vampprior", "gan", "dcgan", "cgan",
           "cyclegan", "transgan", "ctransgan", "transgan_conv", "vqvae", "vqvae14", "maskgit",
           "maskgit_ar", "paella", "ddpm", "iddpm", "cfg", "ncsn", "noisy_classifier",
           "kl_autoencoder", "ldm", "diffae", "diffae_latent", "mbm", "mindvis"]
# Adversarial families: their two losses pull against each other, so no single one must fall.
ADVERSARIAL = {"gan", "dcgan", "cgan", "cyclegan", "transgan", "ctransgan", "transgan_conv"}
NUM_STEPS = 6


def test_every_config_is_covered():
  folder = os.path.join(os.path.dirname(os.path.dirname(__file__)), "experiments", "configs")
  names = {f[:-3] for f in os.listdir(folder) if f.endswith(".py")}
  assert names - {"__init__", "common"} - {n for n in names if n.endswith("_base")} == set(CONFIGS)


def _first_stage(tmp_path_factory, name: str, steps: int = 2, **overrides) -> str:
  """A short tiny run of `name`, shared by the workers: enough to build a model on."""
  config = tiny_config(name, num_train_steps=steps, eval_every_steps=steps,
                       checkpoint_every_steps=steps, grid_size=0, **overrides)
  return shared_run(tmp_path_factory, f"first_stage_{name}", config)


def _first_stages(tmp_path_factory, name: str) -> dict[str, str]:
  """The config keys naming the trained models `name` is built on, trained as needed."""
  if name in ("maskgit", "maskgit_ar", "paella"):
    return {"tokenizer_workdir": _first_stage(tmp_path_factory, "vqvae")}
  if name == "ldm":
    return {"autoencoder_workdir": _first_stage(tmp_path_factory, "kl_autoencoder")}
  if name == "diffae_latent":
    return {"diffae_workdir": _first_stage(tmp_path_factory, "diffae")}
  if name == "mindvis":
    autoencoder = _first_stage(tmp_path_factory, "kl_autoencoder")
    return {"mbm_workdir": _first_stage(tmp_path_factory, "mbm"),
            # Past the tiny warmup (5 steps): the frozen zero-initialised output projections
            # of the ldm's cross-attention must have moved, or no gradient reaches stage B.
            "ldm_workdir": _first_stage(tmp_path_factory, "ldm", steps=8, context="label",
                                        model=ldm_label_model(),
                                        autoencoder_workdir=autoencoder)}
  return {}


@pytest.mark.parametrize("name", CONFIGS)
def test_config_builds_and_its_train_step_learns_a_fixed_batch(name, tmp_path_factory):
  config = tiny_config(name, **_first_stages(tmp_path_factory, name))
  train, _, spec = open_data(config)
  family = make_family(config, spec)
  batch = jax.tree.map(np.asarray, train.train_batches(config.batch_size, config.seed)[
      global_step_index(0)])
  # An rbg key: XLA compiles initialisers from it several times faster than from threefry.
  state = run_once(family.create_state, jax.random.key(0, impl="unsafe_rbg"), batch)
  initial = jax.device_get(state.params)
  step = jax.jit(family.train_step)
  key = jax.random.key(1)
  losses = []
  for _ in range(NUM_STEPS):
    state, metrics = step(state, batch, key)
    metrics = jax.device_get(metrics)
    assert all(np.all(np.isfinite(v)) for v in metrics.values()), metrics
    losses.append(metrics.get("loss"))
  assert int(state.step) == NUM_STEPS
  assert any(changed_leaves(initial, jax.device_get(state.params)))
  if name not in ADVERSARIAL:
    assert losses[-1] < losses[0], losses
