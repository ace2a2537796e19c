"""Paella (config family "paella"): token diffusion by random code replacement over a frozen
VQ tokenizer's codes, for the shared loop.

Config fields: as MaskGIT's (tokenizer_workdir, the transformer's shape, learning_rate,
warmup_steps, weight_decay, label_smoothing, p_uncond, guidance_scale, temperature) and
sample_steps (the sampler's predict-and-renoise steps), typical_mass (locally typical
filtering of each draw; 1 turns it off), final_temperature (the draws' temperature annealed
from `temperature` to it), renoise ("start": re-noise with the initial noise's codes, as the
authors sample; "random"), condition_every_token, modulate_blocks. The network is MaskGIT's
transformer with the noise level joining its class token (with condition_every_token, added
to every code token as well; with modulate_blocks, modulating every block).
Runs from before a key existed read its old behaviour: no annealing, "random" re-noising,
no block modulation.
"""

import jax
import jax.numpy as jnp
import ml_collections

from jaxgen.diffusion import guidance
from jaxgen.errors import UserError
from jaxgen.nets.token_transformer import TokenTransformer
from jaxgen.tokens import paella
from jaxgen.tokens import training
from jaxgen.tokens.family import load_tokenizer
from jaxgen.tokens.maskgit import guided_logits, masked_cross_entropy
from jaxgen.train import accumulate, state as state_lib
from jaxgen.train.family import Batch, DataSpec, Family


def make_family(config: ml_collections.ConfigDict, spec: DataSpec) -> Family:
  """Paella over config.tokenizer_workdir's codes."""
  if not spec.num_classes:
    raise UserError(f"Paella here is class-conditional; dataset {config.dataset!r} has no labels")
  tok, tok_state = load_tokenizer(config.tokenizer_workdir)
  k, c = tok.num_codes, spec.num_classes
  gh, gw = tok.grid()
  n = gh * gw
  model = TokenTransformer(num_codes=k, num_classes=c, dim=config.dim, depth=config.depth,
                           num_heads=config.num_heads, mlp_ratio=config.mlp_ratio,
                           dropout=config.dropout,
                           # Runs from before the field existed conditioned the class token only.
                           condition_every_token=config.get("condition_every_token", False),
                           modulate_blocks=config.get("modulate_blocks", False))
  tx = training.optimizer(config)

  def create_state(rng, batch: Batch) -> state_lib.TrainState:
    params = model.init(rng, jnp.zeros((1, n), jnp.int32), jnp.zeros((1,), jnp.int32),
                        noise_level=jnp.zeros((1,)))["params"]
    return state_lib.create(params, tx, extras={"tokenizer": tok.frozen(tok_state)})

  def loss_and_metrics(params, state, batch: Batch, rng, train: bool):
    level_key, noise_key, drop_key, label_key = jax.random.split(rng, 4)
    codes = tok.encode_flat(state.extras["tokenizer"], batch["image"])  # [b, n]
    t = jax.random.uniform(level_key, (codes.shape[0],))  # [b]
    noised, replaced = paella.add_noise(noise_key, codes, t, k)
    labels = batch["label"]
    if train:
      labels = guidance.drop_labels(label_key, labels, config.p_uncond, c)
    logits = model.apply({"params": params}, noised, labels, train=train, noise_level=t,
                         rngs={"dropout": drop_key})  # [b, n, K]
    every = jnp.ones(codes.shape, bool)
    loss = masked_cross_entropy(logits, codes, every, config.label_smoothing if train else 0.0)
    hits = jnp.argmax(logits, -1) == codes
    # Accuracy where the code was replaced: what the model had to infer rather than copy.
    replaced_accuracy = jnp.sum(hits & replaced) / jnp.maximum(jnp.sum(replaced), 1)
    return loss, {"accuracy": jnp.mean(hits), "replaced_accuracy": replaced_accuracy}

  # Eval: unsmoothed clean-code cross-entropy and accuracies at random levels, true labels.
  train_step, eval_step = training.train_and_eval_steps(
      loss_and_metrics, tx, accumulate.steps_from_config(config))

  def sample(state, rng, num: int, labels=None, sample_steps: int | None = None,
             guidance_scale: float | None = None, unroll: bool = False,
             typical_mass: float | None = None, final_temperature: float | None = None,
             renoise: str | None = None) -> jax.Array:
    """num images [num, h, w, c] in [0, 1]; labels [num] (None: the null label). Keyword
    overrides default to the config's."""
    labels = jnp.full((num,), c, jnp.int32) if labels is None else labels
    w = config.guidance_scale if guidance_scale is None else guidance_scale
    mass = config.get("typical_mass", 1.0) if typical_mass is None else typical_mass
    end = config.get("final_temperature", None) if final_temperature is None else final_temperature
    mode = config.get("renoise", "random") if renoise is None else renoise
    if end is not None and not end > 0:
      raise UserError(f"final_temperature must be a positive temperature, got {end}")
    if mode not in paella.RENOISE_MODES:
      raise UserError(f"renoise must be one of {', '.join(paella.RENOISE_MODES)}, not {mode!r}")

    def logits_fn(codes, y, level):
      net = lambda tokens, l: model.apply({"params": state.params}, tokens, l,
                                          noise_level=jnp.concatenate([level] * (
                                              tokens.shape[0] // level.shape[0])))
      return guided_logits(net, codes, y, c, w)

    codes = paella.sample(logits_fn, rng, labels, n, k, sample_steps or config.sample_steps,
                          config.temperature, unroll, mass, final_temperature=end, renoise=mode)
    return tok.decode_flat(state.extras["tokenizer"], codes)

  return Family(create_state=create_state, train_step=train_step, eval_step=eval_step,
                grad_accum=True,
                sample=sample, conditional=True,
                network_calls=lambda sample_steps=None, **_: sample_steps or config.sample_steps)
