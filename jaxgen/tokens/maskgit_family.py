"""MaskGIT (config family "maskgit") on a frozen VQ tokenizer, for the shared loop.

Config fields: tokenizer_workdir (a trained vqvae run), dim, depth, num_heads, mlp_ratio,
dropout, learning_rate, warmup_steps, weight_decay, label_smoothing, p_uncond (labels dropped
to the null label for classifier-free guidance), and the sampler's decode_steps,
guidance_scale, temperature, choice_temperature and top_k (absent or 0: every code).

The tokenizer's parameters sit in the state's extras (checkpointed with the run, never in the
optimizer): each train step encodes its images to codes with them, masks by the cosine
schedule and trains the transformer on the masked positions (`jaxgen.tokens.maskgit`).
Samples decode codes in decode_steps parallel steps and turn them into images through the
tokenizer's decoder.
"""

import jax
import jax.numpy as jnp
import ml_collections

from jaxgen.diffusion import guidance
from jaxgen.errors import UserError
from jaxgen.nets.token_transformer import TokenTransformer
from jaxgen.tokens import maskgit
from jaxgen.tokens import training
from jaxgen.tokens.family import load_tokenizer
from jaxgen.train import accumulate, state as state_lib
from jaxgen.train.family import Batch, DataSpec, Family


def make_family(config: ml_collections.ConfigDict, spec: DataSpec) -> Family:
  """MaskGIT over the codes of config.tokenizer_workdir's tokenizer."""
  if not spec.num_classes:
    raise UserError(f"MaskGIT here is class-conditional; dataset {config.dataset!r} has no labels")
  tok, tok_state = load_tokenizer(config.tokenizer_workdir)
  k, c = tok.num_codes, spec.num_classes
  gh, gw = tok.grid()
  n = gh * gw
  model = TokenTransformer(num_codes=k, num_classes=c, dim=config.dim, depth=config.depth,
                           num_heads=config.num_heads, mlp_ratio=config.mlp_ratio,
                           dropout=config.dropout)
  tx = training.optimizer(config)

  def create_state(rng, batch: Batch) -> state_lib.TrainState:
    params = model.init(rng, jnp.zeros((1, n), jnp.int32), jnp.zeros((1,), jnp.int32))["params"]
    return state_lib.create(params, tx, extras={"tokenizer": tok.frozen(tok_state)})

  def loss_and_metrics(params, state, batch: Batch, rng, train: bool):
    mask_key, drop_key, label_key = jax.random.split(rng, 3)
    tokens = tok.encode_flat(state.extras["tokenizer"], batch["image"])  # [b, n]
    mask = maskgit.random_mask(mask_key, tokens.shape[0], n)  # [b, n]
    inputs = jnp.where(mask, k, tokens)
    labels = batch["label"]
    if train:  # label dropout: the null label c teaches the unconditional model too
      labels = guidance.drop_labels(label_key, labels, config.p_uncond, c)
    logits = model.apply({"params": params}, inputs, labels, train=train,
                         rngs={"dropout": drop_key})
    loss = maskgit.masked_cross_entropy(logits, tokens, mask,
                                        config.label_smoothing if train else 0.0)
    hits = (jnp.argmax(logits, -1) == tokens) & mask
    return loss, {"masked_accuracy": jnp.sum(hits) / jnp.maximum(jnp.sum(mask), 1)}

  # Eval: unsmoothed masked-token cross-entropy and accuracy at random masks, true labels.
  train_step, eval_step = training.train_and_eval_steps(
      loss_and_metrics, tx, accumulate.steps_from_config(config))

  def sample(state, rng, num: int, labels=None, decode_steps: int | None = None,
             guidance_scale: float | None = None, temperature: float | None = None,
             choice_temperature: float | None = None, top_k: int | None = None,
             unroll: bool = False) -> jax.Array:
    """num images [num, h, w, c] in [0, 1]; labels [num] (None: the null label); the sampler's
    options default to the config's."""
    labels = jnp.full((num,), c, jnp.int32) if labels is None else labels
    w = config.guidance_scale if guidance_scale is None else guidance_scale
    logits_fn = lambda tokens, y: maskgit.guided_logits(
        lambda t, l: model.apply({"params": state.params}, t, l), tokens, y, c, w)
    codes = maskgit.decode(logits_fn, rng, jnp.full((num, n), k, jnp.int32), labels, k,
                           decode_steps or config.decode_steps,
                           config.temperature if temperature is None else temperature,
                           (config.choice_temperature if choice_temperature is None
                            else choice_temperature), unroll,
                           config.get("top_k", 0) if top_k is None else top_k)
    return tok.decode_flat(state.extras["tokenizer"], codes)

  return Family(create_state=create_state, train_step=train_step, eval_step=eval_step,
                grad_accum=True,
                sample=sample, conditional=True,
                network_calls=lambda decode_steps=None, **_: decode_steps or config.decode_steps)
