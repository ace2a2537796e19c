"""Diffusion Autoencoders (config family "diffae", Preechakul et al. 2022).

An image x0 is split into a semantic code z_sem = Enc(x0) and a stochastic code x_T, found by
deterministic DDIM inversion of x0 under the denoiser conditioned on z_sem; DDIM decoding of
(z_sem, x_T) gives x0 back almost exactly. Encoder and U-Net train together on the ordinary
eps loss (`jaxgen.diffusion.losses.training_loss`), the U-Net conditioned on the code of the
very image it denoises.

Config fields: model (the U-Net's fields as for ddpm, plus semantic_dim, encoder_channels,
encoder_hidden), diffusion (as for ddpm; clip_x0 must be off, or decoding would not invert),
sampler.num_steps (DDIM steps of inversion and decoding), learning_rate, warmup_steps,
grad_clip, ema_decay, recon_eval_examples.

Evaluation: the reconstruction PSNR from (z_sem, inverted x_T) on the first
recon_eval_examples images of the eval split (per image, with its standard error), and, as the
family's reconstructions (grids; with config.recon_quality, the scorer's FCD and accuracy), the
decodings of z_sem from a random x_T (x_0 clipped at each step): whether the code alone keeps
the digit.
"""

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxgen.diffusion import losses, samplers, schedules
from jaxgen.diffusion.components import make_schedule, make_spec, optimizer, to_signed, to_unit
from jaxgen.diffusion.process import Spec
from jaxgen.errors import UserError
from jaxgen.metrics import intervals
from jaxgen.nets.diffae import DiffAENet
from jaxgen.train import state as train_state
from jaxgen.train.family import DataSpec, Family


def build_network(config: ml_collections.ConfigDict, data_spec: DataSpec) -> DiffAENet:
  """The encoder and conditioned U-Net config.model describes."""
  m = config.model
  return DiffAENet(
      out_channels=data_spec.image_shape[-1], semantic_dim=m.semantic_dim,
      encoder_channels=tuple(m.encoder_channels), encoder_hidden=m.encoder_hidden,
      base_channels=m.base_channels, channel_mult=tuple(m.channel_mult),
      num_res_blocks=m.num_res_blocks, attention_resolutions=tuple(m.attention_resolutions),
      dropout=m.dropout, head_dim=m.get("head_dim", 32))


@dataclasses.dataclass(frozen=True)
class SemanticAutoencoder:
  """A trained Diffusion Autoencoder's encode / invert / decode, pure in its parameters.

  All images are [b, h, w, c] in [0, 1]; z_sem is [b, d]; x_T is [b, h, w, c] (unit scale).
  `num_steps` DDIM steps on a respaced schedule for both directions.
  """

  net: DiffAENet
  spec: Spec
  betas: np.ndarray
  num_steps: int

  def _chain(self):
    """(respaced schedule of num_steps steps, the original timesteps they keep)."""
    return schedules.respace(self.betas, self.num_steps)

  def _model_fn(self, params, z_sem, ts):
    fn = lambda x, t: self.net.apply({"params": params}, x, t, z_sem, method=DiffAENet.denoise)
    return samplers.respaced_model_fn(fn, ts)

  def encode(self, params, images: jax.Array) -> jax.Array:
    """The semantic code z_sem [b, d]."""
    return self.net.apply({"params": params}, images, method=DiffAENet.encode)

  def invert(self, params, images: jax.Array, z_sem: jax.Array) -> jax.Array:
    """The stochastic code x_T: deterministic DDIM inversion conditioned on z_sem."""
    sched, ts = self._chain()
    return samplers.ddim_encode(self.spec, sched, self._model_fn(params, z_sem, ts),
                                to_signed(images))

  def decode(self, params, x_T: jax.Array, z_sem: jax.Array, clip: bool = False) -> jax.Array:
    """DDIM (eta 0) from x_T conditioned on z_sem: images in [0, 1].

    `clip` clips each step's predicted x_0 to [-1, 1], as the authors' renderer does when it
    decodes from a random x_T (their `clip_denoised`); an inverted x_T must be decoded without
    it, since inversion followed the unclipped map.
    """
    sched, ts = self._chain()
    spec = dataclasses.replace(self.spec, clip_x0=clip)
    x0 = samplers.ddim_sample(spec, sched, self._model_fn(params, z_sem, ts), x_T,
                              jax.random.key(0), 0.0)
    return to_unit(x0)

  def reconstruct(self, params, images: jax.Array) -> jax.Array:
    """decode(invert(x0, z_sem), z_sem): the near-exact reconstruction."""
    z_sem = self.encode(params, images)
    return self.decode(params, self.invert(params, images, z_sem), z_sem)


def split_codes(auto: SemanticAutoencoder, params: Any, images: np.ndarray,
                batch: int = 500) -> np.ndarray:
  """z_sem [n, d] of uint8 images [n, h, w, c], encoded in batches."""
  encode = jax.jit(auto.encode)
  return np.concatenate([np.asarray(encode(params, jnp.asarray(images[i:i + batch],
                                                               jnp.float32) / 255.0))
                         for i in range(0, len(images), batch)])


def code_statistics(auto: SemanticAutoencoder, params: Any, dataset: str,
                    data_dir: str | None) -> tuple[np.ndarray, np.ndarray]:
  """Per-dimension mean and std [d] of z_sem over every image of the train split."""
  from jaxgen.data import sources
  codes = split_codes(auto, params, sources.load_arrays(dataset, "train", data_dir)["image"])
  return codes.mean(0), codes.std(0) + 1e-6


def make_semantic_autoencoder(config: ml_collections.ConfigDict,
                              data_spec: DataSpec) -> SemanticAutoencoder:
  """The trained model's encode / invert / decode for config (a diffae run's)."""
  betas, _ = make_schedule(config)
  return SemanticAutoencoder(build_network(config, data_spec), make_spec(config), betas,
                             min(config.sampler.num_steps, len(betas)))


def make_family(config: ml_collections.ConfigDict, data_spec: DataSpec) -> Family:
  """The diffae family."""
  if config.diffusion.get("clip_x0", True):
    raise UserError("config.diffusion.clip_x0 must be False for diffae: a clipped x0 breaks "
                    "the DDIM inversion that finds x_T")
  spec = make_spec(config)
  _, sched = make_schedule(config)
  auto = make_semantic_autoencoder(config, data_spec)
  net = auto.net
  h, w, c = data_spec.image_shape
  tx = optimizer(config)
  ema_decay = config.get("ema_decay", 0.9999)
  recon_examples = int(config.get("recon_eval_examples", 0))

  def create_state(rng, example_batch):
    x = jnp.zeros((1, h, w, c), jnp.float32)
    params = net.init(rng, x, jnp.zeros((1,), jnp.int32), x)["params"]
    return train_state.create(params, tx, ema=True)

  def loss(params, images, rng, train: bool, d_rng=None):
    z_sem = net.apply({"params": params}, images, method=DiffAENet.encode)  # [b, d]
    rngs = {"dropout": d_rng} if d_rng is not None else None
    fn = lambda x, t: net.apply({"params": params}, x, t, z_sem, train,
                                method=DiffAENet.denoise, rngs=rngs)
    return losses.training_loss(spec, sched, fn, to_signed(images), rng)

  def train_step(state, batch, rng):
    l_rng, d_rng = jax.random.split(rng)
    (_, aux), grads = jax.value_and_grad(
        lambda p: loss(p, batch["image"], l_rng, True, d_rng), has_aux=True)(state.params)
    return train_state.apply_gradients(state, grads, tx, ema_decay), aux

  def eval_step(state, batch, rng):
    return loss(state.ema_params, batch["image"], rng, False)[1]

  def reconstruct(state, batch, rng):
    """Decodings of each image's z_sem from a random x_T (x_0 clipped, as the authors render):
    [b, h, w, c] in [0, 1]."""
    z_sem = auto.encode(state.ema_params, batch["image"])
    x_T = jax.random.normal(rng, batch["image"].shape)
    return auto.decode(state.ema_params, x_T, z_sem, clip=True)

  exact = jax.jit(lambda params, images: auto.reconstruct(params, images))

  def evaluate(state, split, rng):
    """PSNR of decode(invert(x0)) on the first recon_eval_examples images of `split`."""
    del rng
    values = []
    for batch in split.eval_batches(min(recon_examples, 100), 1):
      images = jnp.asarray(batch["image"][:recon_examples - len(values)])
      back = np.asarray(exact(state.ema_params, images))
      mse = np.mean(np.square(back - np.asarray(images)), axis=(1, 2, 3))
      values += list(10.0 * np.log10(1.0 / np.maximum(mse, 1e-10)))
      if len(values) >= recon_examples:
        break
    mean, se = intervals.mean_and_se(np.asarray(values))
    return {"inversion_psnr": mean, "inversion_psnr_se": se}

  return Family(create_state=create_state, train_step=train_step, eval_step=eval_step,
                sample=None, reconstruct=reconstruct,
                evaluate=evaluate if recon_examples > 0 else None)
