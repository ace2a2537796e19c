"""MinD-Vis stage B (config family "mindvis"): a label-conditioned latent diffusion model
fine-tuned to be conditioned on brain signals through the stage-A encoder.

Config fields: ldm_workdir (a trained `ldm` run with context "label": its U-Net, autoencoder,
diffusion process and sampler are reused), mbm_workdir (a trained `mbm` run whose encoder
reads the signals; empty: the same encoder, config.encoder, from scratch, the paper's
ablation), encoder (patch, dim, depth, num_heads; read only without mbm_workdir),
context_tokens, sparsify (the share of voxels zeroed at random in each training signal, the
paper's random sparsification), shuffle_pairs (the control: each image is trained with another
example's signal), learning_rate, warmup_steps, grad_clip, ema_decay, sampler (kind,
num_steps, eta).

Only the encoder, the mappers and the U-Net's cross-attention with its norms train: they are
the state's params. The rest of the U-Net (and the autoencoder) sit in the state's extras,
frozen, so the optimizer never sees them. Batches hold "image", "label" and "signal" [b, v].
`reconstruct` decodes a batch's signals into images; `experiments.sample --signals=FILE.npz`
and `experiments.brain_eval` call it.
"""

from typing import Any

import flax
import jax
import jax.numpy as jnp
import ml_collections
import optax

from jaxgen.diffusion import guidance, losses, samplers
from jaxgen.diffusion.components import make_schedule, make_spec, optimizer
from jaxgen.diffusion.samplers import SampleSettings
from jaxgen.errors import UserError
from jaxgen.latent.autoencoder import load_autoencoder
from jaxgen.nets.mindvis import BrainDiffusionNet
from jaxgen.nets.unet import UNet
from jaxgen.train import state as train_state
from jaxgen.train.family import DataSpec, Family

# Parameter-path components that train inside the pretrained U-Net (MinD-Vis fine-tunes the
# cross-attention and its norm); everything under "conditioner" trains too.
TRAINED_IN_UNET = ("cross_attn", "norm_cross")


def is_trained(path: tuple[str, ...]) -> bool:
  """Whether the parameter at `path` (a tuple of names) trains in stage B."""
  return path[0] == "conditioner" or any(p in TRAINED_IN_UNET for p in path)


def split_params(params: Any) -> tuple[dict, dict]:
  """(trained, frozen) flat dicts {path tuple: array} of a BrainDiffusionNet's params."""
  flat = flax.traverse_util.flatten_dict(flax.core.unfreeze(params))
  trained = {k: v for k, v in flat.items() if is_trained(k)}
  frozen = {k: v for k, v in flat.items() if not is_trained(k)}
  return trained, frozen


def _join_paths(flat: dict) -> dict:
  """A flat {path tuple: array} dict -> one level, each path joined by "." (what the state
  holds: orbax stores it as a plain dict)."""
  return {".".join(k): v for k, v in flat.items()}


def _split_paths(joined: dict) -> dict:
  return {tuple(k.split(".")): v for k, v in joined.items()}


def merged_params(trained: dict, frozen: dict) -> dict:
  """The full parameter tree from the state's params and extras (both "."-joined)."""
  return flax.traverse_util.unflatten_dict({**_split_paths(frozen), **_split_paths(trained)})


def _restore(workdir: str, family: str, key: str):
  from jaxgen.train.restore import restore_trained  # pylint: disable=g-import-not-at-top
  trained = restore_trained(workdir)
  if trained.config.family != family:
    raise UserError(f"{workdir} holds a {trained.config.family} run; config.{key} must name "
                    f"a {family} run")
  return trained


def load_ldm(workdir: str):
  """The label-conditioned ldm run at `workdir`: (its config, its EMA U-Net params, the
  embedding [context_dim] of its null label, the unconditional context of guidance)."""
  trained = _restore(workdir, "ldm", "ldm_workdir")
  if trained.config.context != "label":
    raise UserError(f"{workdir} is a text-conditioned ldm; MinD-Vis fine-tunes a label-"
                    "conditioned one (train ldm with --config.context=label)")
  params = trained.state.ema_params
  null = params["label_embed"]["embedding"][trained.spec.num_classes]  # [context_dim]
  return trained.config, params["unet"], null


def load_mbm(workdir: str, signal_length: int):
  """The mbm run at `workdir`: (its model config, its encoder params)."""
  trained = _restore(workdir, "mbm", "mbm_workdir")
  if trained.spec.signal_length != signal_length:
    raise UserError(f"{workdir} was pretrained on signals of {trained.spec.signal_length} "
                    f"voxels, this data has {signal_length}: pretrain on the same subject's ROI")
  return trained.config.model, trained.state.params["encoder"]


def make_family(config: ml_collections.ConfigDict, data_spec: DataSpec) -> Family:
  """MinD-Vis stage B over config.ldm_workdir's model and config.mbm_workdir's encoder."""
  if not data_spec.signal_length or not data_spec.image_shape[0]:
    raise UserError(f"dataset {config.dataset!r} lacks paired 'image' and 'signal' features; "
                    "MinD-Vis trains on paired data (e.g. brain_digits/sbj_1)")
  ldm_config, unet_params, null_embedding = load_ldm(config.ldm_workdir)
  stage, stage_state = load_autoencoder(ldm_config.autoencoder_workdir)
  if config.mbm_workdir:
    encoder, encoder_params = load_mbm(config.mbm_workdir, data_spec.signal_length)
  else:
    encoder, encoder_params = config.encoder, None
  if data_spec.signal_length % encoder.patch:
    raise UserError(f"signals of {data_spec.signal_length} voxels do not divide into patches "
                    f"of {encoder.patch}")
  gh, gw, zc = stage.latent_shape()
  spec, (betas, sched) = make_spec(ldm_config), make_schedule(ldm_config)
  m = ldm_config.model
  unet = UNet(zc * spec.output_multiplier, m.base_channels, tuple(m.channel_mult),
              m.num_res_blocks, tuple(m.attention_resolutions), m.dropout,
              head_dim=m.get("head_dim", 32))
  net = BrainDiffusionNet(unet, encoder.patch, encoder.dim, encoder.depth, encoder.num_heads,
                          config.context_tokens, m.context_dim)
  tx = optimizer(config)
  ema_decay = config.get("ema_decay", 0.999)
  settings = SampleSettings.from_config(config.sampler, len(betas))
  default_w = float(config.sampler.get("guidance_scale", 0.0))
  sparsify = float(config.get("sparsify", 0.0))

  # Condition dropout: this share of training examples sees the ldm's null-label context (and
  # no pooled embedding), so the null condition guidance contrasts with is trained with the
  # signal conditioner rather than left as the ldm had it.
  condition_dropout = float(config.get("condition_dropout", 0.0))
  null_context = jnp.broadcast_to(null_embedding, (config.context_tokens,) +
                                  null_embedding.shape)  # [m, context_dim]

  def apply(trained, frozen, x, t, signals, train=False, rng=None, drop=None):
    rngs = {"dropout": rng} if rng is not None else None
    return net.apply({"params": merged_params(trained, frozen)}, x, t, signals, train=train,
                     drop=drop, null_context=null_context, rngs=rngs)

  def create_state(rng, example_batch):
    x = jnp.zeros((1, gh, gw, zc), jnp.float32)
    params = net.init(rng, x, jnp.zeros((1,), jnp.int32), example_batch["signal"][:1])["params"]
    params = flax.core.unfreeze(params)
    pretrained_unet = flax.traverse_util.flatten_dict(flax.core.unfreeze(unet_params))
    fresh_unet = flax.traverse_util.flatten_dict(params["unet"])
    if set(pretrained_unet) != set(fresh_unet):
      raise UserError(f"{config.ldm_workdir}'s U-Net does not match the one MinD-Vis builds "
                      "from its config; retrain the ldm run with this version of jaxgen")
    params["unet"] = unet_params
    if encoder_params is not None:
      params["conditioner"]["encoder"] = encoder_params
    trained, frozen = split_params(params)
    return train_state.create(_join_paths(trained), tx, ema=True,
                              extras={"frozen": _join_paths(frozen),
                                      "first_stage": stage.freeze(stage_state)})

  def training_signals(batch, rng):
    signals = batch["signal"]  # [b, v]
    if config.get("shuffle_pairs", False):
      # The control: each image meets the next example's signal (batches are random draws).
      signals = jnp.roll(signals, 1, axis=0)
    if sparsify > 0:
      signals = signals * jax.random.bernoulli(rng, 1.0 - sparsify, signals.shape)
    return signals

  def train_step(state, batch, rng):
    e_rng, s_rng, d_rng, l_rng, p_rng = jax.random.split(rng, 5)
    x0 = stage.encode(state.extras["first_stage"], batch["image"], e_rng)  # [b, gh, gw, zc]
    signals = training_signals(batch, s_rng)
    frozen = jax.lax.stop_gradient(state.extras["frozen"])
    drop = (jax.random.bernoulli(p_rng, condition_dropout, (len(signals),))
            if condition_dropout > 0 else None)  # [b]

    def loss_fn(params):
      fn = lambda x, t: apply(params, frozen, x, t, signals, True, d_rng, drop)
      return losses.training_loss(spec, sched, fn, x0, l_rng)

    (_, aux), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    state = train_state.apply_gradients(state, grads, tx, ema_decay)
    return state, dict(aux, grad_norm=optax.tree.norm(grads))

  def eval_step(state, batch, rng):
    """The latent diffusion loss with the EMA params on true pairs."""
    e_rng, l_rng = jax.random.split(rng)
    x0 = stage.encode(state.extras["first_stage"], batch["image"], e_rng)
    fn = lambda x, t: apply(state.ema_params, state.extras["frozen"], x, t, batch["signal"])
    _, aux = losses.training_loss(spec, sched, fn, x0, l_rng)
    return aux

  def reconstruct(state, batch, rng, guidance_scale: float | None = None):
    """Images [b, h, w, c] in [0, 1] decoded from batch["signal"] [b, v] (EMA params).

    With guidance_scale w > 0 (default config.sampler.guidance_scale), classifier-free
    guidance against the pretrained ldm's null-label context (and no pooled embedding), which
    the ldm's training taught it as the unconditional model and stage B's condition dropout
    (config.condition_dropout) keeps training."""
    w = default_w if guidance_scale is None else guidance_scale
    params = {"params": merged_params(state.ema_params, state.extras["frozen"])}
    context, pooled = net.apply(params, batch["signal"], method=BrainDiffusionNet.condition)
    b, m, _ = context.shape
    if w:
      # Conditions by index: 0..b-1 the signals', b the null one (guidance's "null label").
      contexts = jnp.concatenate([context, jnp.broadcast_to(null_embedding, (1, m) +
                                                            null_embedding.shape)])
      pooleds = jnp.concatenate([pooled, jnp.zeros_like(pooled[:1])])
      fn = guidance.classifier_free(
          spec, lambda x, t, i: net.apply(params, x, t, contexts[i], pooleds[i],
                                          method=BrainDiffusionNet.denoise),
          jnp.arange(b), b, w)
    else:
      fn = lambda x, t: net.apply(params, x, t, context, pooled, method=BrainDiffusionNet.denoise)
    noise_rng, run_rng = jax.random.split(rng)
    x_T = jax.random.normal(noise_rng, (b, gh, gw, zc), jnp.float32)
    z0 = samplers.run_chain(spec, betas, sched, fn, x_T, run_rng, settings.overridden(
        None, None, None, bool(w), len(betas)))
    return stage.decode(state.extras["first_stage"], z0)

  return Family(create_state=create_state, train_step=train_step, eval_step=eval_step,
                reconstruct=reconstruct)
