"""DiffAE's latent DDIM (config family "diffae_latent"): unconditional samples from a trained
Diffusion Autoencoder by diffusing its semantic codes.

A small denoiser (`jaxgen.nets.diffae.LatentMLP`) learns the distribution of z_sem over the
training images, normalised per dimension by their mean and std over the whole train split
(computed once from the frozen encoder, as DiffAE does, and kept in the checkpoint). Sampling
draws z_sem with DDIM in that space, then decodes it with the frozen DiffAE's DDIM from a random
x_T. The diffusion core is `jaxgen.diffusion`'s, unchanged, on vectors [b, d].

Config fields: diffae_workdir (a trained diffae run), mlp_hidden, mlp_depth, diffusion, sampler
(the latent chain's; decoding uses the diffae run's own steps), learning_rate, warmup_steps,
grad_clip, ema_decay.
"""

from typing import Any

import jax
import jax.numpy as jnp
import ml_collections

from jaxgen.diffusion import losses, samplers
from jaxgen.diffusion.components import make_schedule, make_spec, optimizer
from jaxgen.diffusion.samplers import SampleSettings
from jaxgen.errors import UserError
from jaxgen.latent.diffae_family import (SemanticAutoencoder, code_statistics,
                                         make_semantic_autoencoder)
from jaxgen.nets.diffae import LatentMLP
from jaxgen.train import state as train_state
from jaxgen.train.family import DataSpec, Family


def load_diffae(workdir: str) -> tuple[SemanticAutoencoder, Any]:
  """(SemanticAutoencoder, trained state) of a diffae run; one-line errors for a missing or
  mismatched workdir."""
  from jaxgen.train.restore import restore_trained
  trained = restore_trained(workdir)
  if trained.config.family != "diffae":
    raise UserError(f"{workdir} holds a {trained.config.family} run; diffae_workdir must name "
                    "a diffae run")
  return make_semantic_autoencoder(trained.config, trained.spec), trained.state


def make_family(config: ml_collections.ConfigDict, data_spec: DataSpec) -> Family:
  """The latent DDIM over config.diffae_workdir's semantic codes."""
  if config.diffusion.get("clip_x0", True):
    raise UserError("config.diffusion.clip_x0 must be False for diffae_latent: normalised "
                    "codes are not confined to [-1, 1]")
  auto, auto_state = load_diffae(config.diffae_workdir)
  spec = make_spec(config)
  betas, sched = make_schedule(config)
  d = auto.net.semantic_dim
  net = LatentMLP(config.mlp_hidden, config.mlp_depth)
  tx = optimizer(config)
  ema_decay = config.get("ema_decay", 0.9999)
  s = config.sampler
  settings = SampleSettings.from_config(s, len(betas))
  h, w, c = data_spec.image_shape
  # Eagerly, here: create_state runs traced. A resumed run keeps its checkpointed statistics.
  mean, std = code_statistics(auto, auto_state.ema_params, config.dataset,
                              config.get("data_dir") or None)

  def create_state(rng, example_batch):
    params = net.init(rng, jnp.zeros((1, d)), jnp.zeros((1,), jnp.int32))["params"]
    return train_state.create(params, tx, ema=True, extras={
        "diffae": auto_state.ema_params, "code_mean": jnp.asarray(mean),
        "code_std": jnp.asarray(std)})

  def normalised_codes(state, images):
    z = jax.lax.stop_gradient(auto.encode(state.extras["diffae"], images))  # [b, d]
    return (z - state.extras["code_mean"]) / state.extras["code_std"]

  def train_step(state, batch, rng):
    z = normalised_codes(state, batch["image"])

    def loss_fn(params):
      fn = lambda x, t: net.apply({"params": params}, x, t, True)
      return losses.training_loss(spec, sched, fn, z, rng)

    (_, aux), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    return train_state.apply_gradients(state, grads, tx, ema_decay), aux

  def eval_step(state, batch, rng):
    fn = lambda x, t: net.apply({"params": state.ema_params}, x, t)
    return losses.training_loss(spec, sched, fn, normalised_codes(state, batch["image"]), rng)[1]

  def sample_codes(state, rng, num):
    """z_sem [num, d] drawn by the latent chain (de-normalised)."""
    noise_rng, run_rng = jax.random.split(rng)
    fn = lambda x, t: net.apply({"params": state.ema_params}, x, t)
    z = samplers.run_chain(spec, betas, sched, fn, jax.random.normal(noise_rng, (num, d)),
                           run_rng, settings)
    return z * state.extras["code_std"] + state.extras["code_mean"]

  def sample(state, rng, num, labels=None):
    """Unconditional images [num, h, w, c] in [0, 1]: a latent-DDIM z_sem, decoded from a
    random x_T (`labels` is ignored)."""
    del labels
    z_rng, x_rng = jax.random.split(rng)
    z_sem = sample_codes(state, z_rng, num)
    return auto.decode(state.extras["diffae"], jax.random.normal(x_rng, (num, h, w, c)), z_sem,
                       clip=True)

  return Family(create_state=create_state, train_step=train_step, eval_step=eval_step,
                sample=sample)
