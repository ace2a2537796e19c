"""The KL autoencoder (config family "kl_autoencoder"): latent diffusion's first stage.

Config fields: channels (encoder widths per stride-2 level), padded_size (images are padded to
this square side first), latent_channels, kl_weight,
recon_loss ("l1" or "mse", on the [-1, 1] scale), latent_stats_decay, learning_rate.

Loss. LDM (Rombach et al. 2022, `LPIPSWithDiscriminator`) sums the reconstruction error over
the pixels of an image and adds kl_weight * KL(q(z|x) || N(0, I)), the KL also summed per
image, with kl_weight 1e-6. We average the reconstruction error over pixels instead, and divide
the per-image KL by the same pixel count, so the loss is LDM's divided by h * w * c and the
same kl_weight means the same trade-off (1e-6: latents nearly free in scale, hence the scale
factor below).

Latent scale. Diffusion assumes data of roughly unit variance; LDM rescales the latents by
1 / std of posterior samples of training images. The state's extras keep an EMA over the
training batches (decay latent_stats_decay) of the mean and mean square of those samples, so
the factor is saved with every checkpoint: `FirstStage.scale_factor` reads it.

Evaluation reports the reconstruction PSNR (per image, with its standard error), the KL per
latent dimension and the latent std; with config.recon_quality, the loop adds the scoring
classifier's FCD and accuracy on the reconstructions.
"""

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from jaxgen.errors import UserError
from jaxgen.nets.kl_autoencoder import KLAutoencoder
from jaxgen.train import state as state_lib
from jaxgen.train.family import Batch, DataSpec, Family, Metrics
from jaxgen.vae.distributions import gaussian_kl_to_standard, reparameterize

RECON_LOSSES = ("l1", "mse")


@dataclasses.dataclass(frozen=True)
class FirstStage:
  """A trained KL autoencoder as models in its latent space use it (frozen).

  `frozen` is the dict `FirstStage.freeze` makes of the autoencoder's trained state; models
  built on it keep that dict in their own state's extras, so their checkpoints stand alone.
  """

  model: KLAutoencoder

  @staticmethod
  def freeze(state: state_lib.TrainState) -> dict:
    """What a model built on the autoencoder keeps of it: parameters and latent statistics."""
    return {"params": state.params, "latent_mean": state.extras["latent_mean"],
            "latent_sq": state.extras["latent_sq"]}

  @staticmethod
  def scale_factor(frozen: dict) -> jax.Array:
    """1 / std of the training latents (a scalar over all latent elements)."""
    var = frozen["latent_sq"] - jnp.square(frozen["latent_mean"])
    return jax.lax.rsqrt(jnp.maximum(var, 1e-12))

  def latent_shape(self) -> tuple[int, int, int]:
    """(gh, gw, latent_channels) of one image's latent."""
    side = self.model.padded_size or max(self.model.image_shape[:2])
    g = side // 2 ** len(self.model.channels)
    return g, g, self.model.latent_channels

  def encode(self, frozen: dict, images: jax.Array, rng: jax.Array | None) -> jax.Array:
    """images [b, h, w, c] in [0, 1] -> scaled latents [b, gh, gw, zc]: a posterior sample
    (the posterior mean when rng is None) times the scale factor. No gradient."""
    mean, log_var = self.model.apply({"params": frozen["params"]}, images,
                                     method=KLAutoencoder.encode)
    z = mean if rng is None else reparameterize(rng, mean, log_var)
    return jax.lax.stop_gradient(z * self.scale_factor(frozen))

  def decode(self, frozen: dict, latents: jax.Array) -> jax.Array:
    """scaled latents [b, gh, gw, zc] -> images [b, h, w, c] in [0, 1]."""
    out = self.model.apply({"params": frozen["params"]}, latents / self.scale_factor(frozen),
                           method=KLAutoencoder.decode)
    return jnp.clip((out + 1.0) / 2.0, 0.0, 1.0)


def build_autoencoder(config: ml_collections.ConfigDict, spec: DataSpec) -> KLAutoencoder:
  """The network config describes, for images of spec.image_shape."""
  if config.latent_channels < 1:
    raise UserError(f"latent_channels must be at least 1, got {config.latent_channels}")
  h, w, _ = spec.image_shape
  side = config.get("padded_size") or max(h, w)
  if side < max(h, w) or side % 2 ** len(config.channels):
    raise UserError(f"padded_size {side} must be at least the image side {max(h, w)} and a "
                    f"multiple of {2 ** len(config.channels)} ({len(config.channels)} levels)")
  return KLAutoencoder(spec.image_shape, tuple(config.channels), config.latent_channels, side)


def make_family(config: ml_collections.ConfigDict, spec: DataSpec) -> Family:
  """The KL autoencoder family."""
  model = build_autoencoder(config, spec)
  kl_weight = float(config.kl_weight)
  recon_loss = config.get("recon_loss", "l1")
  if recon_loss not in RECON_LOSSES:
    raise UserError(f"config.recon_loss must be one of {RECON_LOSSES}, got {recon_loss!r}")
  decay = float(config.get("latent_stats_decay", 0.99))
  num_pixels = int(np.prod(spec.image_shape))
  tx = optax.adam(config.learning_rate)

  def create_state(rng, batch: Batch) -> state_lib.TrainState:
    params = model.init(rng, batch["image"][:1])["params"]
    # Mean 0 and mean square 1 until the first step: a scale factor of 1, not a division by 0.
    extras = {"latent_mean": jnp.zeros(()), "latent_sq": jnp.ones(()),
              "stats_steps": jnp.zeros((), jnp.int32)}
    return state_lib.create(params, tx, extras=extras)

  def forward(params, images, rng):
    """Reconstruction [b, h, w, c] ([-1, 1] scale), latent sample, per-image KL [b] and the
    per-image reconstruction error [b] (mean over pixels)."""
    mean, log_var = model.apply({"params": params}, images, method=KLAutoencoder.encode)
    z = reparameterize(rng, mean, log_var)  # [b, gh, gw, zc]
    out = model.apply({"params": params}, z, method=KLAutoencoder.decode)
    err = out - (images * 2.0 - 1.0)
    err = jnp.abs(err) if recon_loss == "l1" else jnp.square(err)
    recon = jnp.mean(err, axis=(1, 2, 3))  # [b]
    b = images.shape[0]
    kl = gaussian_kl_to_standard(mean.reshape(b, -1), log_var.reshape(b, -1))  # [b], nats
    return out, z, kl, recon

  def train_step(state, batch: Batch, rng) -> tuple[state_lib.TrainState, Metrics]:
    def loss_fn(params):
      _, z, kl, recon = forward(params, batch["image"], rng)
      loss = jnp.mean(recon) + kl_weight * jnp.mean(kl) / num_pixels
      return loss, (z, kl, recon)

    (loss, (z, kl, recon)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    new = state_lib.apply_gradients(state, grads, tx)
    # EMA of the latent moments, bias-corrected early on (the first step sets them outright).
    ex = state.extras
    rate = jnp.maximum(1.0 - decay, 1.0 / (ex["stats_steps"] + 1.0))
    z = jax.lax.stop_gradient(z)
    extras = {"latent_mean": (1 - rate) * ex["latent_mean"] + rate * jnp.mean(z),
              "latent_sq": (1 - rate) * ex["latent_sq"] + rate * jnp.mean(jnp.square(z)),
              "stats_steps": ex["stats_steps"] + 1}
    return new.replace(extras=extras), {"loss": loss, "recon_loss": jnp.mean(recon),
                                        "kl_per_dim": jnp.mean(kl) / z[0].size,
                                        "latent_std": jnp.std(z)}

  def eval_step(state, batch: Batch, rng) -> Metrics:
    images = batch["image"]
    out, z, kl, recon = forward(state.params, images, rng)
    pixels = jnp.clip((out + 1.0) / 2.0, 0.0, 1.0)
    mse = jnp.mean(jnp.square(pixels - images), axis=(1, 2, 3))  # [b], on the [0, 1] scale
    return {"loss": jnp.mean(recon) + kl_weight * jnp.mean(kl) / num_pixels,
            "recon_loss": jnp.mean(recon), "kl_per_dim": jnp.mean(kl) / z[0].size,
            "scale_factor": FirstStage.scale_factor(FirstStage.freeze(state)),
            "psnr": 10.0 * jnp.log10(1.0 / jnp.maximum(mse, 1e-10))}  # [b]: with its SE

  stage = FirstStage(model)

  def reconstruct(state, batch: Batch, rng) -> jax.Array:
    """Decodes each image's posterior mean: [b, h, w, c] in [0, 1]."""
    del rng
    frozen = stage.freeze(state)
    return stage.decode(frozen, stage.encode(frozen, batch["image"], None))

  return Family(create_state=create_state, train_step=train_step, eval_step=eval_step,
                sample=None, reconstruct=reconstruct)


def load_autoencoder(workdir: str) -> tuple[FirstStage, Any]:
  """(FirstStage, trained state) of a kl_autoencoder run, for models in its latent space;
  one-line errors for a missing or mismatched workdir."""
  from jaxgen.train.restore import restore_trained
  trained = restore_trained(workdir)
  if trained.config.family != "kl_autoencoder":
    raise UserError(f"{workdir} holds a {trained.config.family} run; autoencoder_workdir must "
                    "name a kl_autoencoder run")
  return FirstStage(build_autoencoder(trained.config, trained.spec)), trained.state
