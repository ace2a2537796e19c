"""The VQ tokenizer (config family "vqvae") for the shared loop: images <-> grids of code indices.

Config fields: channels (encoder widths per stride-2 level), embed_dim, num_codes, beta (the
commitment weight), codebook ("ema": statistics averaged with ema_decay, no gradient; or
"loss": a parameter trained by the codebook loss), restart_share (a code whose usage, an EMA
with usage_decay of its share of the vectors, falls below restart_share / num_codes restarts at
a random encoder vector; 0 turns restarts off), learning_rate.

State: params {"autoencoder", and "codebook" [K, d] when it is trained by its loss}; extras
{"usage" [K], and with "ema" the codebook and its statistics}. Usage starts at 0, so the first
step restarts every code at an encoder vector of the first batch: a data-dependent start.
The reconstruction loss is the mean squared error on the [-1, 1] scale.

Beyond the loop's per-batch metrics the family reports, over the whole eval split, the share of
the codebook that any image uses (`codebook_usage`) and the code distribution's perplexity.
Models built on the tokenizer (MaskGIT, Paella) call `Tokenizer`.
"""

import dataclasses
import enum
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from jaxgen.errors import UserError, enum_choice
from jaxgen.nets.vq import VQAutoencoder
from jaxgen.tokens import vq
from jaxgen.train import state as state_lib
from jaxgen.train.family import Batch, DataSpec, Family, Metrics


class CodebookUpdate(enum.Enum):
  """How the codebook learns."""

  EMA = "ema"
  LOSS = "loss"


@dataclasses.dataclass(frozen=True)
class Tokenizer:
  """Encode images to code indices and decode indices to images with a trained state."""

  model: VQAutoencoder
  num_codes: int
  ema: bool

  def codebook(self, state: state_lib.TrainState) -> jax.Array:
    """The codebook [K, d] of `state`."""
    return state.extras["codebook"] if self.ema else state.params["codebook"]

  def encode(self, state: state_lib.TrainState, images: jax.Array) -> jax.Array:
    """images [b, h, w, c] in [0, 1] -> code indices int32 [b, gh, gw]."""
    z = self.model.apply({"params": state.params["autoencoder"]}, images,
                         method=VQAutoencoder.encode)
    return vq.nearest_codes(z, self.codebook(state))

  def decode(self, state: state_lib.TrainState, indices: jax.Array) -> jax.Array:
    """code indices [b, gh, gw] -> images [b, h, w, c] in [0, 1]."""
    z = self.codebook(state)[indices]  # [b, gh, gw, d]
    out = self.model.apply({"params": state.params["autoencoder"]}, z,
                           method=VQAutoencoder.decode)
    return jnp.clip((out + 1.0) / 2.0, 0.0, 1.0)

  def grid(self) -> tuple[int, int]:
    """The code grid (gh, gw) of one image."""
    h, w, _ = self.model.image_shape
    factor = 2 ** len(self.model.channels)
    return h // factor, w // factor

  @staticmethod
  def frozen(state: state_lib.TrainState) -> dict:
    """What a model built on the tokenizer keeps of it (in its own state's extras)."""
    return {"params": state.params, "extras": state.extras}

  @staticmethod
  def thawed(frozen: dict) -> state_lib.TrainState:
    """The state `encode` and `decode` read, from `frozen`'s output."""
    return state_lib.TrainState(step=jnp.zeros((), jnp.int32), params=frozen["params"],
                                opt_state=None, extras=frozen["extras"])

  def encode_flat(self, frozen: dict, images: jax.Array) -> jax.Array:
    """images [b, h, w, c] -> codes [b, gh * gw] in raster order (no gradient)."""
    codes = self.encode(self.thawed(frozen), images)  # [b, gh, gw]
    return jax.lax.stop_gradient(codes.reshape(codes.shape[0], -1))

  def decode_flat(self, frozen: dict, codes: jax.Array) -> jax.Array:
    """codes [b, gh * gw] -> images [b, h, w, c] in [0, 1]."""
    return self.decode(self.thawed(frozen), codes.reshape((codes.shape[0],) + self.grid()))


def build_tokenizer(config: ml_collections.ConfigDict, spec: DataSpec) -> Tokenizer:
  """The tokenizer's network and codebook layout from `config` (checks the image shape fits)."""
  factor = 2 ** len(config.channels)
  h, w, _ = spec.image_shape
  if h % factor or w % factor:
    raise UserError(f"images of shape {spec.image_shape} do not fit a tokenizer with "
                    f"{len(config.channels)} stride-2 levels; h and w must be multiples of "
                    f"{factor}")
  if config.num_codes < 2:
    raise UserError(f"num_codes must be at least 2, got {config.num_codes}")
  model = VQAutoencoder(spec.image_shape, tuple(config.channels), config.embed_dim)
  update = enum_choice(CodebookUpdate, config.get("codebook", "ema"), "codebook")
  return Tokenizer(model, config.num_codes, update is CodebookUpdate.EMA)


def make_family(config: ml_collections.ConfigDict, spec: DataSpec) -> Family:
  """The VQ tokenizer family."""
  tok = build_tokenizer(config, spec)
  model, k = tok.model, tok.num_codes
  tx = optax.adam(config.learning_rate)
  beta = float(config.get("beta", 0.25))
  ema_decay = float(config.get("ema_decay", 0.99))
  usage_decay = float(config.get("usage_decay", 0.99))
  threshold = float(config.get("restart_share", 0.03)) / k

  def create_state(rng, batch: Batch) -> state_lib.TrainState:
    params = {"autoencoder": model.init(rng, batch["image"][:1])["params"]}
    # A placeholder codebook: usage 0 restarts every code at the first step.
    codebook = jax.random.uniform(jax.random.fold_in(rng, 1), (k, config.embed_dim),
                                  minval=-1.0 / k, maxval=1.0 / k)
    extras = {"usage": jnp.zeros((k,))}
    if tok.ema:
      extras.update(codebook=codebook, cluster_size=jnp.zeros((k,)),
                    embed_sum=jnp.zeros((k, config.embed_dim)))
    else:
      params["codebook"] = codebook
    return state_lib.create(params, tx, extras=extras)

  def forward(params, codebook, images):
    """Reconstruction, its loss terms and the quantiser's outputs for images [b, h, w, c]."""
    z = model.apply({"params": params["autoencoder"]}, images, method=VQAutoencoder.encode)
    q = vq.quantize(z, codebook)  # z_q [b, gh, gw, d], indices [b, gh, gw]
    out = model.apply({"params": params["autoencoder"]}, q["z_q"], method=VQAutoencoder.decode)
    recon = jnp.mean(jnp.square(out - (images * 2.0 - 1.0)))
    return out, z, q, recon

  def train_step(state, batch: Batch, rng) -> tuple[state_lib.TrainState, Metrics]:
    def loss_fn(params):
      codebook = state.extras["codebook"] if tok.ema else params["codebook"]
      _, z, q, recon = forward(params, codebook, batch["image"])
      loss = recon + beta * q["commitment_loss"]
      if not tok.ema:
        loss = loss + q["codebook_loss"]
      return loss, (z, q, recon)

    (loss, (z, q, recon)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    new = state_lib.apply_gradients(state, grads, tx)
    counts = vq.code_counts(q["indices"], k)  # [K]
    usage = usage_decay * state.extras["usage"] + (1 - usage_decay) * counts / counts.sum()
    extras, params = dict(new.extras), dict(new.params)
    if tok.ema:
      stats = vq.ema_codebook({n: extras[n] for n in ("cluster_size", "embed_sum", "codebook")},
                              z, q["indices"], ema_decay)
      extras.update(stats)
    codebook = extras["codebook"] if tok.ema else params["codebook"]
    dead = usage < threshold
    if threshold > 0:
      codebook, usage = vq.restart_dead_codes(codebook, usage, z, rng, threshold)
      if tok.ema:  # the restarted codes' statistics say "one mean-sized cluster at the new code"
        size = jnp.where(dead, jnp.mean(extras["cluster_size"]), extras["cluster_size"])
        extras.update(codebook=codebook, cluster_size=size,
                      embed_sum=jnp.where(dead[:, None], codebook * size[:, None],
                                          extras["embed_sum"]))
      else:
        params["codebook"] = codebook
    extras["usage"] = usage
    new = new.replace(params=params, extras=extras)
    return new, {"loss": loss, "recon_mse": recon, "codebook_loss": q["codebook_loss"],
                 "commitment_loss": q["commitment_loss"], "perplexity": vq.perplexity(counts),
                 "restarted_codes": jnp.sum(dead & (threshold > 0)).astype(jnp.float32)}

  def eval_step(state, batch: Batch, rng) -> Metrics:
    del rng
    images = batch["image"]
    out, _, q, recon = forward(state.params, tok.codebook(state), images)
    pixels = jnp.clip((out + 1.0) / 2.0, 0.0, 1.0)
    mse = jnp.mean(jnp.square(pixels - images), axis=(1, 2, 3))  # [b], on the [0, 1] scale
    return {"loss": recon + beta * q["commitment_loss"], "recon_mse": jnp.mean(mse),
            "psnr": 10.0 * jnp.log10(1.0 / jnp.maximum(mse, 1e-10))}  # [b]: with its SE

  encode = jax.jit(tok.encode)

  def evaluate(state, split, rng) -> dict[str, float]:
    """Codebook usage over every image of `split`: the share of codes used at least once and
    the perplexity of the code distribution."""
    del rng
    counts = np.zeros((k,), np.int64)
    for batch in split.eval_batches(config.get("eval_batch_size", 200), 1):
      indices = np.asarray(encode(state, jnp.asarray(batch["image"])))
      counts += np.bincount(indices.reshape(-1), minlength=k)
    return {"codebook_usage": float(np.mean(counts > 0)),
            "split_perplexity": float(vq.perplexity(jnp.asarray(counts, jnp.float32)))}

  def reconstruct(state, batch: Batch, rng) -> jax.Array:
    """Decodes each image's codes: [b, h, w, c] in [0, 1]."""
    del rng
    return tok.decode(state, tok.encode(state, batch["image"]))

  return Family(create_state=create_state, train_step=train_step, eval_step=eval_step,
                sample=None, reconstruct=reconstruct, evaluate=evaluate)


def load_tokenizer(workdir: str) -> tuple[Tokenizer, Any]:
  """(Tokenizer, trained state) of a vqvae run, for models built on its codes; one-line
  errors for a missing or mismatched workdir."""
  from jaxgen.train.restore import restore_trained
  trained = restore_trained(workdir)
  if trained.config.family != "vqvae":
    raise UserError(f"{workdir} holds a {trained.config.family} run; tokenizer_workdir must "
                    "name a vqvae run")
  return build_tokenizer(trained.config, trained.spec), trained.state
