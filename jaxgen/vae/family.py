"""AE, VAE, CVAE and VampPrior VAE as one family for the shared loop (config.variant)."""

import enum

import jax
import jax.numpy as jnp
import numpy as np
import ml_collections
import optax

from jaxgen.errors import UserError, enum_choice
from jaxgen.nets.autoencoder import Autoencoder
from jaxgen.train import accumulate, state as state_lib
from jaxgen.train.family import Batch, DataSpec, Family, Metrics
from jaxgen.vae import distributions as D
from jaxgen.vae.objectives import Likelihood, Networks, importance_weighted_nll, negative_elbo

_CODE_STATS_DECAY = 0.99  # EMA of the plain AE's code statistics (used to sample from it)
_TEST_BINARIZATION_SEED = 20261128  # fixed so every model is scored on the same binary digits


class Variant(enum.Enum):
  """Which autoencoder."""

  AE = "ae"
  VAE = "vae"
  CVAE = "cvae"
  VAMPPRIOR = "vampprior"


class Architecture(enum.Enum):
  """config.architecture: the encoder and decoder networks."""
  CONV = "conv"
  GATED_MLP = "gated_mlp"  # the VampPrior paper's


def build_model(config: ml_collections.ConfigDict, spec: DataSpec) -> Autoencoder:
  """The network for `config.variant` on `spec`'s images (checks the shape fits)."""
  variant = enum_choice(Variant, config.variant, "variant")
  architecture = enum_choice(Architecture, config.get("architecture", "conv"), "architecture")
  factor = 2 ** len(config.channels) if architecture is Architecture.CONV else 1
  h, w, _ = spec.image_shape
  if h % factor or w % factor:
    raise UserError(f"images of shape {spec.image_shape} do not fit an encoder with "
                    f"{len(config.channels)} stride-2 levels; h and w must be multiples of {factor}")
  return Autoencoder(image_shape=spec.image_shape, latent_dim=config.latent_dim,
                     channels=tuple(config.channels), hidden=config.hidden,
                     stochastic=variant is not Variant.AE,
                     num_pseudo_inputs=config.num_pseudo_inputs if variant is Variant.VAMPPRIOR else 0,
                     architecture=architecture.value)


def make_family(config: ml_collections.ConfigDict, spec: DataSpec) -> Family:
  """The autoencoder family named by `config.variant`."""
  variant = enum_choice(Variant, config.variant, "variant")
  if variant is Variant.CVAE and not spec.num_classes:
    raise UserError(f"the CVAE needs labels; dataset {config.dataset!r} has none")
  model = build_model(config, spec)
  kind = enum_choice(Likelihood, config.likelihood, "likelihood")
  tx = optax.adam(config.learning_rate)
  accum_steps = accumulate.steps_from_config(config)
  obs_log_var = float(config.get("obs_log_var", 0.0))

  def cond(batch_labels):
    if variant is not Variant.CVAE:
      return None
    return jax.nn.one_hot(batch_labels, spec.num_classes)  # [b, classes]

  def nets(params) -> Networks:
    apply = lambda method, *a: model.apply({"params": params}, *a, method=method)
    prior = None
    if variant is Variant.VAMPPRIOR:
      prior = lambda: apply(Autoencoder.encode, apply(Autoencoder.pseudo_inputs), None)
    return Networks(encode=lambda x, c: apply(Autoencoder.encode, x, c),
                    decode=lambda z, c: apply(Autoencoder.decode, z, c), prior_params=prior)

  def targets(x, rng):
    """Dynamic binarisation for the Bernoulli likelihood (a fresh draw every step)."""
    if kind is Likelihood.BERNOULLI and config.binarize:
      return jax.random.bernoulli(rng, x).astype(x.dtype)
    return x

  def test_targets(x):
    """Each test image binarised with a key from its own pixels: the same binary digit in every
    model, eval batch size and device layout."""
    if not (kind is Likelihood.BERNOULLI and config.binarize):
      return x
    # Exact in float32: a 64x64x3 image sums to at most 3.1e6 < 2^24.
    pixel_sums = jnp.round(jnp.sum(x * 255.0, axis=(1, 2, 3))).astype(jnp.int32)  # [b]
    keys = jax.vmap(jax.random.fold_in, (None, 0))(jax.random.key(_TEST_BINARIZATION_SEED),
                                                   pixel_sums)
    return jax.vmap(lambda k, xi: jax.random.bernoulli(k, xi).astype(x.dtype))(keys, x)

  def losses(params, x, c, rng):
    if variant is Variant.AE:
      (code,) = model.apply({"params": params}, x, c, method=Autoencoder.encode)
      recon = -D.log_bernoulli(nets(params).decode(code, c), x) if kind is Likelihood.BERNOULLI \
          else jnp.sum((nets(params).decode(code, c) - x) ** 2, axis=(1, 2, 3))
      return jnp.mean(recon), {"recon": recon, "code": code}
    return negative_elbo(nets(params), x, c, rng, kind, obs_log_var, config.get("beta", 1.0))

  def create_state(rng, batch):
    params = model.init(rng, batch["image"][:1], cond(batch["label"][:1]))["params"]
    extras = {}
    if variant is Variant.AE:
      extras = {"code_mean": jnp.zeros(config.latent_dim), "code_var": jnp.ones(config.latent_dim)}
    return state_lib.create(params, tx, extras=extras)

  def batch_loss(params, batch: Batch, rng):
    bin_rng, z_rng = jax.random.split(rng)
    return losses(params, targets(batch["image"], bin_rng), cond(batch["label"]), z_rng)

  def train_step(state, batch: Batch, rng) -> tuple[state_lib.TrainState, Metrics]:
    (loss, aux), grads = accumulate.value_and_grad(batch_loss, state.params, batch, rng,
                                                   accum_steps)
    new = state_lib.apply_gradients(state, grads, tx)
    if variant is Variant.AE:  # running Gaussian fit of the codes, to sample the AE
      code = aux.pop("code")
      mix = lambda old, new_v: _CODE_STATS_DECAY * old + (1 - _CODE_STATS_DECAY) * new_v
      new = new.replace(extras={"code_mean": mix(state.extras["code_mean"], code.mean(0)),
                                "code_var": mix(state.extras["code_var"], code.var(0))})
    return new, {"loss": loss, **{k: v.mean() for k, v in aux.items()}}

  # The CVAE's likelihood is conditional, -log p(x|y): named apart so no table mixes the two.
  nll_key = "cond_nll_iw" if variant is Variant.CVAE else "nll_iw"

  def eval_step(state, batch: Batch, rng) -> Metrics:
    x, c = test_targets(batch["image"]), cond(batch["label"])
    loss, aux = losses(state.params, x, c, rng)
    aux.pop("code", None)
    metrics = {"loss": loss, **{k: v.mean() for k, v in aux.items()}}
    metrics["recon_mse"] = jnp.mean((reconstruct(state, batch, None) - batch["image"]) ** 2)
    if variant is not Variant.AE and config.iw_samples > 0:
      metrics[nll_key] = importance_weighted_nll(  # [b]: the loop adds its standard error
          nets(state.params), x, c, jax.random.fold_in(rng, 1), kind, config.iw_samples,
          obs_log_var)
    return metrics

  @jax.jit
  def _iw_nll(params, batch, rng):
    x, c = test_targets(batch["image"]), cond(batch["label"])
    return importance_weighted_nll(nets(params), x, c, rng, kind, config.iw_samples,
                                   obs_log_var)  # [b] nats

  def nll_per_image(state, split, rng, num: int, progress=None) -> np.ndarray:
    """Importance-weighted -log p(x) (CVAE: -log p(x|y)) in nats of the first `num` images
    of `split`, with config.iw_samples samples each: [num]. `progress`, if given, is called
    with the number of images done after each batch."""
    out, seen = [], 0
    for i, batch in enumerate(split.eval_batches(config.get("eval_batch_size", 200), 1)):
      if seen >= num:
        break
      values = np.asarray(_iw_nll(state.params, jax.tree.map(jnp.asarray, batch),
                                  jax.random.fold_in(rng, i)))
      out.append(values[:num - seen])
      seen += len(out[-1])
      if progress is not None:
        progress(seen)
    return np.concatenate(out) if out else np.zeros((0,))

  def reconstruct(state, batch: Batch, rng) -> jax.Array:
    """Decodes the posterior mean (AE: the code) of each image: [b, h, w, c] in [0, 1]."""
    del rng
    c = cond(batch["label"])
    code = nets(state.params).encode(batch["image"], c)[0]
    out = nets(state.params).decode(code, c)
    return jax.nn.sigmoid(out) if kind is Likelihood.BERNOULLI else jnp.clip(out, 0, 1)

  def sample(state, rng, num: int, labels=None) -> jax.Array:
    z_rng, k_rng = jax.random.split(rng)
    eps = jax.random.normal(z_rng, (num, config.latent_dim))
    if variant is Variant.AE:
      z = state.extras["code_mean"] + jnp.sqrt(state.extras["code_var"]) * eps
    elif variant is Variant.VAMPPRIOR:  # pick a pseudo-input, then sample its posterior
      means, log_vars = nets(state.params).prior_params()
      k = jax.random.randint(k_rng, (num,), 0, means.shape[0])
      z = means[k] + jnp.exp(0.5 * log_vars[k]) * eps
    else:
      z = eps
    if variant is Variant.CVAE and labels is None:
      labels = jax.random.randint(k_rng, (num,), 0, spec.num_classes)
    out = nets(state.params).decode(z, cond(labels))
    return jax.nn.sigmoid(out) if kind is Likelihood.BERNOULLI else jnp.clip(out, 0, 1)

  return Family(create_state=create_state, train_step=train_step, eval_step=eval_step,
                grad_accum=True,
                sample=sample, reconstruct=reconstruct, conditional=variant is Variant.CVAE,
                nll_per_image=None if variant is Variant.AE or config.iw_samples <= 0
                else nll_per_image, nll_unit="nats")
