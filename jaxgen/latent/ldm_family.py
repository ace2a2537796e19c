"""Latent diffusion (config family "ldm", Rombach et al. 2022) on a frozen KL autoencoder.

Config fields: autoencoder_workdir (a trained kl_autoencoder run), context ("label", "text" or
"captions"), model (the U-Net's fields as for ddpm, plus context_dim, text_depth, text_heads,
context_tokens and pooled_context, `LatentDiffusionNet`'s), text_aux_weight (see below),
diffusion and sampler (as for ddpm; clip_x0 must be off: scaled latents are not confined to
[-1, 1]), p_uncond (conditions dropped to the null one, for classifier-free guidance),
learning_rate, warmup_steps, grad_clip, ema_decay.

The diffusion core is `jaxgen.diffusion`'s, unchanged: the same losses, schedules, samplers and
guidance, run on x0 = the autoencoder's posterior sample times its scale factor. The first
stage's parameters sit in the state's extras (checkpointed with the run, never optimised).

Text context: each training image gets the prompt of a random training template for its label
(`jaxgen.latent.prompts`); sampling from labels uses the held-out templates, so the conditional
accuracy the loop and the report measure is that of prompts the model never saw in training.
Captions context: each training image gets a random caption of its label and its measured
thickness, slant and size buckets (measured in the step, `jaxgen.metrics.digit_properties`;
captions from `jaxgen.latent.captions`' training phrasebook); sampling from labels uses
held-out-phrasebook prompts that name the digit alone.

text_aux_weight > 0 (text contexts; a label context ignores it) adds, beside the diffusion loss, a loss of reading the
prompt: from the encoded context's mean, the digit and each property bucket the caption says
(cross-entropy, prompts dropped for guidance left out). Beyond the LDM paper, whose text encoder
learns from the diffusion loss alone: ours has no pretraining, and at 5000 steps the diffusion
loss alone taught it to read the digit from 83% of training-phrasing prompts.
"""


import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from jaxgen.diffusion import guidance, losses, samplers
from jaxgen.diffusion.components import make_schedule, make_spec, optimizer
from jaxgen.diffusion.samplers import SampleSettings
from jaxgen.errors import UserError
from jaxgen.metrics import digit_properties
from jaxgen.data.pipeline import SplitData
from jaxgen.latent import captions, prompts
from jaxgen.latent.autoencoder import load_autoencoder
from jaxgen.nets.ldm import LatentDiffusionNet
from jaxgen.train import accumulate, state as train_state
from jaxgen.train.family import DataSpec, Family

# "text": template prompts of the label; "captions": measured captions (label, thickness,
# slant, size in varied English, jaxgen.latent.captions), chosen in the step from the digit.
CONTEXTS = ("label", "text", "captions")
TEXT_CONTEXTS = ("text", "captions")  # those read through the text encoder
CAPTIONS_PER_ROW = 32  # training captions drawn for each digit and bucket combination


def build_network(config: ml_collections.ConfigDict, num_classes: int,
                  out_channels: int) -> LatentDiffusionNet:
  """The conditioned U-Net config.model and config.context describe."""
  m = config.model
  return LatentDiffusionNet(
      out_channels=out_channels, context="text" if config.context in TEXT_CONTEXTS else "label",
      num_classes=num_classes,
      vocab_size=prompts.vocab_size(), context_dim=m.context_dim,
      text_depth=m.get("text_depth", 2), text_heads=m.get("text_heads", 4),
      base_channels=m.base_channels, channel_mult=tuple(m.channel_mult),
      num_res_blocks=m.num_res_blocks, attention_resolutions=tuple(m.attention_resolutions),
      dropout=m.dropout, head_dim=m.get("head_dim", 32),
      context_tokens=m.get("context_tokens", 0), pooled_context=m.get("pooled_context", False),
      read_classes=(num_classes,) + (3,) * len(digit_properties.PROPERTIES)
      if reading_weight(config) else ())


def reading_weight(config: ml_collections.ConfigDict) -> float:
  """The weight of the auxiliary reading loss: config.text_aux_weight for a text context, 0
  for labels (no prompt to read; `--config.context=label` on the ldm config needs no other
  override)."""
  return float(config.get("text_aux_weight", 0.0)) if config.context in TEXT_CONTEXTS else 0.0


def caption_read_loss(logits: tuple[jax.Array, ...], labels: jax.Array, said: jax.Array,
                      kept: jax.Array) -> tuple[jax.Array, dict[str, jax.Array]]:
  """Cross-entropy of reading a prompt: logits (digit [b, 10], then [b, 3] per property, as
  `LatentDiffusionNet.read` gives), labels [b], said [b, 3] (buckets the caption says, -1
  unsaid) and kept [b] (False where the prompt was dropped to the null one). The mean over the
  prompts that say each, summed over digit and properties; and the digit's read accuracy."""
  def masked_ce(lg, target, mask):
    ce = optax.softmax_cross_entropy_with_integer_labels(lg, jnp.maximum(target, 0))  # [b]
    return jnp.sum(ce * mask) / jnp.maximum(mask.sum(), 1.0)

  kept = kept.astype(jnp.float32)
  loss = masked_ce(logits[0], labels, kept)
  for i, lg in enumerate(logits[1:]):
    loss = loss + masked_ce(lg, said[:, i], kept * (said[:, i] >= 0))
  digit_read = jnp.sum((jnp.argmax(logits[0], -1) == labels) * kept) / jnp.maximum(kept.sum(), 1)
  return loss, {"read_loss": loss, "read_digit_accuracy": digit_read}


def held_out_table(context: str, seed: int, num_classes: int = 10) -> np.ndarray:
  """Held-out prompts of each label, int32 [H, num_classes, L]: the held-out templates, or
  for measured captions 8 held-out-phrasebook prompts a label that name the digit alone
  (captions.digit_only). Naming the digit alone asks for what the test digits of that label
  look like, as a label asks the pixel-space cfg model: the FCD of these samples compares
  with its."""
  if context != "captions":
    return prompts.template_tokens(prompts.HELD_OUT_TEMPLATES, num_classes)
  rng = np.random.default_rng(seed)
  return np.stack([np.stack([prompts.tokenize(captions.digit_only(rng, y))
                             for y in range(num_classes)]) for _ in range(8)])


def held_out_prompts(labels: np.ndarray | jax.Array, table: np.ndarray | jax.Array) -> jax.Array:
  """Tokens [b, L] for labels [b]: example i reads prompt i mod H of its label in `table` [H,
  10, L] (held_out_table's)."""
  table = jnp.asarray(table)
  labels = jnp.asarray(labels, jnp.int32)
  return table[jnp.arange(labels.shape[0]) % table.shape[0], labels]


def train_buckets(config: ml_collections.ConfigDict) -> digit_properties.Buckets:
  """The property buckets captions say: terciles of the training digits."""
  images = SplitData.open(config.dataset, "train", config.get("data_dir") or None).arrays()
  return digit_properties.Buckets.from_images(images["image"])


def measured_captions(table: jax.Array, said: jax.Array, edges: jax.Array, images: jax.Array,
                      labels: jax.Array, rng: jax.Array) -> tuple[jax.Array, jax.Array]:
  """Tokens [b, L] and the buckets they say [b, 3]: for each digit (images [b, h, w, 1] in
  [0, 1], labels [b]) a random caption of its row of `table` and `said` (captions.caption_table's
  two), the row of its label and the buckets (edges [3, 2]) of its thickness, slant and size as
  measured here, in the step."""
  values = digit_properties.measure_jax(images[..., 0])
  rows = captions.combination_index(labels, digit_properties.buckets_jax(values, edges))  # [b]
  which = jax.random.randint(rng, labels.shape, 0, table.shape[1])  # [b]
  return table[rows, which], said[rows, which]


def make_family(config: ml_collections.ConfigDict, data_spec: DataSpec) -> Family:
  """Latent diffusion over config.autoencoder_workdir's latents."""
  if config.context not in CONTEXTS:
    raise UserError(f"config.context must be one of {CONTEXTS}, got {config.context!r}")
  if not data_spec.num_classes:
    raise UserError(f"latent diffusion here is conditional; dataset {config.dataset!r} has "
                    "no labels to build its context from")
  if config.diffusion.get("clip_x0", True):
    raise UserError("config.diffusion.clip_x0 must be False for latent diffusion: scaled "
                    "latents are not confined to [-1, 1]")
  stage, stage_state = load_autoencoder(config.autoencoder_workdir)
  gh, gw, zc = stage.latent_shape()
  spec = make_spec(config)
  betas, sched = make_schedule(config)
  num_classes = data_spec.num_classes
  text = config.context in TEXT_CONTEXTS
  measured = config.context == "captions"
  null = prompts.PAD if text else num_classes
  net = build_network(config, num_classes, zc * spec.output_multiplier)
  tx = optimizer(config)
  accum_steps = accumulate.steps_from_config(config)
  ema_decay = config.get("ema_decay", 0.9999)
  p_uncond = float(config.get("p_uncond", 0.1))
  aux_weight = reading_weight(config)
  if measured:
    edges = jnp.asarray(train_buckets(config).as_array())  # [3, 2]
    tokens, said = captions.caption_table(config.seed, CAPTIONS_PER_ROW)
    train_table, train_said = jnp.asarray(tokens), jnp.asarray(said)  # [270, K, L], [270, K, 3]
  else:
    train_table = jnp.asarray(prompts.template_tokens(prompts.TRAIN_TEMPLATES, num_classes))
  # Built once: sampling from labels reads it at every call.
  held_table = jnp.asarray(held_out_table(config.context, config.seed)) if text else None
  s = config.sampler
  defaults = SampleSettings.from_config(s, len(betas))
  default_w = float(s.get("guidance_scale", 0.0))

  def model_fn(params, condition, train=False, rng=None):
    rngs = {"dropout": rng} if rng is not None else None
    return lambda x, t: net.apply({"params": params}, x, t, condition, train=train, rngs=rngs)

  def condition_of(labels, rng, images=None):
    """What the network reads for labels [b]: the labels, a random training template's prompt
    for each, or a random training caption of each digit's measured buckets (images [b, h, w,
    1]) (tokens [b, L]); and the property buckets it says [b, 3] (-1: unsaid)."""
    unsaid = jnp.full(labels.shape + (len(digit_properties.PROPERTIES),), -1, jnp.int32)
    if not text:
      return labels, unsaid
    if measured:
      return measured_captions(train_table, train_said, edges, images, labels, rng)
    which = jax.random.randint(rng, labels.shape, 0, train_table.shape[0])  # [b]
    return train_table[which, labels], unsaid

  def init_network(rng, x, cond):
    """Every parameter, the reading head's included (init runs __call__, which skips it)."""
    def all_parts(module, x, cond):
      context = module.encode(cond)
      if module.read_classes:
        module.read(context)
      return module.denoise(x, jnp.zeros((x.shape[0],), jnp.int32), context)
    return net.init(rng, x, cond, method=all_parts)["params"]

  def create_state(rng, example_batch):
    x = jnp.zeros((1, gh, gw, zc), jnp.float32)
    cond, _ = condition_of(jnp.zeros((1,), jnp.int32), rng, example_batch["image"][:1])
    params = init_network(rng, x, cond)
    return train_state.create(params, tx, ema=True,
                              extras={"first_stage": stage.freeze(stage_state)})

  def latents_and_condition(state, batch, rng, drop: bool):
    e_rng, c_rng, d_rng = jax.random.split(rng, 3)
    x0 = stage.encode(state.extras["first_stage"], batch["image"], e_rng)  # [b, gh, gw, zc]
    cond, said = condition_of(batch["label"], c_rng, batch["image"])
    if drop and p_uncond > 0:
      cond = guidance.drop_labels(d_rng, cond, p_uncond, null)
    return x0, cond, said

  def train_step(state, batch, rng):
    def loss_fn(params, batch, rng):
      x_rng, d_rng, l_rng = jax.random.split(rng, 3)
      x0, cond, said = latents_and_condition(state, batch, x_rng, True)
      rngs = {"dropout": d_rng}
      # Encoded once: the denoiser and the reading head share it.
      context = net.apply({"params": params}, cond, True, rngs=rngs, method="encode")
      fn = lambda x, t: net.apply({"params": params}, x, t, context, True, rngs=rngs,
                                  method="denoise")
      loss, aux = losses.training_loss(spec, sched, fn, x0, l_rng)
      if aux_weight:
        kept = jnp.any(cond != null, axis=-1)  # [b]: prompts not dropped for guidance
        read, read_aux = caption_read_loss(
            net.apply({"params": params}, context, method="read"), batch["label"], said, kept)
        loss, aux = loss + aux_weight * read, {**aux, **read_aux}
      return loss, aux

    (_, aux), grads = accumulate.value_and_grad(loss_fn, state.params, batch, rng, accum_steps)
    state = train_state.apply_gradients(state, grads, tx, ema_decay)
    return state, dict(aux, grad_norm=optax.tree.norm(grads))

  def eval_step(state, batch, rng):
    """The diffusion loss in latent space with the EMA params and the true conditions."""
    x_rng, l_rng = jax.random.split(rng)
    x0, cond, _ = latents_and_condition(state, batch, x_rng, False)
    _, aux = losses.training_loss(spec, sched, model_fn(state.ema_params, cond), x0, l_rng)
    return aux

  def _sample(params, frozen, rng, condition, cfg_w, *, num, settings):
    # The prompt (and the null one) encoded once for the whole chain, not at every step.
    encode = lambda c: net.apply({"params": params}, c, method="encode")  # [num, s, dim]
    denoise = lambda x, t, ctx: net.apply({"params": params}, x, t, ctx, method="denoise")
    context = encode(condition)
    fn = lambda x, t: denoise(x, t, context)
    if settings.guided:
      null_context = encode(jnp.full_like(condition, null))
      fn = guidance.classifier_free(spec, denoise, context, null_context, cfg_w)
    noise_rng, run_rng = jax.random.split(rng)
    x_T = jax.random.normal(noise_rng, (num, gh, gw, zc), jnp.float32)
    z0 = samplers.run_chain(spec, betas, sched, fn, x_T, run_rng, settings)
    return stage.decode(frozen, z0)

  _sample_jit = jax.jit(_sample, static_argnames=("num", "settings"))

  def sample(state, rng, num, labels=None, *, prompt_tokens=None, kind: str | None = None,
             num_steps: int | None = None, eta: float | None = None,
             spacing: str | None = None, guidance_scale: float | None = None):
    """Draws `num` images [num, h, w, c] in [0, 1] with the EMA params.

    The condition: `prompt_tokens` [num, L] or [L] (one prompt for all; text context), else
    labels [num] (default 0, 1,
    ..., repeated), which a text model reads through the held-out templates. Keyword overrides
    default to config.sampler; `guidance_scale` w > 0 applies classifier-free guidance.
    """
    cfg_w = default_w if guidance_scale is None else guidance_scale
    settings = defaults.overridden(kind, num_steps, eta, bool(cfg_w), len(betas), spacing)
    if prompt_tokens is not None:
      if not text:
        raise UserError("prompts need a text-conditioned model (config.context='text')")
      condition = jnp.asarray(prompt_tokens, jnp.int32)
      if condition.ndim == 1:
        condition = jnp.broadcast_to(condition, (num,) + condition.shape)  # [num, L]
    else:
      if labels is None:
        labels = jnp.arange(num, dtype=jnp.int32) % num_classes
      condition = (held_out_prompts(labels, held_table) if text
                   else jnp.asarray(labels, jnp.int32))
    return _sample_jit(state.ema_params, state.extras["first_stage"], rng, condition,
                       jnp.float32(cfg_w), num=num, settings=settings)

  return Family(create_state=create_state, train_step=train_step, eval_step=eval_step,
                grad_accum=True,
                sample=sample, conditional=True)
