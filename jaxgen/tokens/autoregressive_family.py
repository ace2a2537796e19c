"""The autoregressive baseline (config family "maskgit_ar"): a causal transformer over the same
frozen tokenizer's codes in raster order, decoded one code per network call with a key/value
cache, so MaskGIT's speed and quality claim is measured against it rather than quoted.

Config fields as MaskGIT's (tokenizer_workdir, dim, depth, num_heads, mlp_ratio, dropout,
learning_rate, warmup_steps, weight_decay, label_smoothing, p_uncond, guidance_scale,
temperature) and top_k (draw among the k most likely codes; 0 or absent: all); no masking and
no decode_steps (always one step per code).
"""

import jax
import jax.numpy as jnp
import ml_collections

from jaxgen.diffusion import guidance
from jaxgen.errors import UserError
from jaxgen.nets.token_transformer import CausalTokenTransformer
from jaxgen.tokens import autoregressive
from jaxgen.tokens import training
from jaxgen.tokens.family import load_tokenizer
from jaxgen.tokens.maskgit import masked_cross_entropy
from jaxgen.train import accumulate, state as state_lib
from jaxgen.train.family import Batch, DataSpec, Family


def make_family(config: ml_collections.ConfigDict, spec: DataSpec) -> Family:
  """The causal baseline over config.tokenizer_workdir's codes."""
  if not spec.num_classes:
    raise UserError(f"the baseline here is class-conditional; dataset {config.dataset!r} has no "
                    "labels")
  tok, tok_state = load_tokenizer(config.tokenizer_workdir)
  k, c = tok.num_codes, spec.num_classes
  gh, gw = tok.grid()
  n = gh * gw
  shape = dict(num_codes=k, num_classes=c, length=n, dim=config.dim, depth=config.depth,
               num_heads=config.num_heads, mlp_ratio=config.mlp_ratio, dropout=config.dropout)
  model = CausalTokenTransformer(**shape)
  cached = CausalTokenTransformer(**shape, decode=True)
  tx = training.optimizer(config)

  def create_state(rng, batch: Batch) -> state_lib.TrainState:
    params = model.init(rng, jnp.zeros((1, n), jnp.int32), jnp.zeros((1,), jnp.int32))["params"]
    return state_lib.create(params, tx, extras={"tokenizer": tok.frozen(tok_state)})

  def loss_and_metrics(params, state, batch: Batch, rng, train: bool):
    drop_key, label_key = jax.random.split(rng)
    codes = tok.encode_flat(state.extras["tokenizer"], batch["image"])  # [b, n]
    labels = batch["label"]
    if train:  # label dropout, as MaskGIT's, for classifier-free guidance
      labels = guidance.drop_labels(label_key, labels, config.p_uncond, c)
    logits = model.apply({"params": params}, autoregressive.shift_right(codes), labels,
                         train=train, rngs={"dropout": drop_key})  # [b, n, K]
    every = jnp.ones(codes.shape, bool)
    loss = masked_cross_entropy(logits, codes, every, config.label_smoothing if train else 0.0)
    accuracy = jnp.mean(jnp.argmax(logits, -1) == codes)
    return loss, {"next_code_accuracy": accuracy}

  # Eval: unsmoothed next-code cross-entropy (nats per code) and accuracy, true labels.
  train_step, eval_step = training.train_and_eval_steps(
      loss_and_metrics, tx, accumulate.steps_from_config(config))

  def sample(state, rng, num: int, labels=None, guidance_scale: float | None = None,
             use_cache: bool = True, unroll: bool = False, temperature: float | None = None,
             top_k: int | None = None) -> jax.Array:
    """num images [num, h, w, c] in [0, 1], one network call per code (cached by default;
    `unroll` writes the cached calls out, for XLA's cost analysis). temperature and top_k
    default to the config's."""
    labels = jnp.full((num,), c, jnp.int32) if labels is None else labels
    w = config.guidance_scale if guidance_scale is None else guidance_scale
    temp = config.temperature if temperature is None else temperature
    k_best = config.get("top_k", 0) if top_k is None else top_k
    # Guidance runs the conditional and the null-label rows as one batch of 2 num.
    rows = jnp.concatenate([labels, jnp.full_like(labels, c)]) if w else labels

    def guide(logits):  # [rows, m, K] -> [num, m, K]
      if not w:
        return logits
      cond, uncond = jnp.split(logits, 2)
      return (1.0 + w) * cond - w * uncond

    def twice(prev):  # the same codes for both halves
      return jnp.concatenate([prev, prev]) if w else prev

    if use_cache:
      cache = cached.init(jax.random.key(0), jnp.zeros((len(rows), n), jnp.int32), rows)["cache"]

      def step_fn(cache, prev):
        logits, updated = cached.apply({"params": state.params, "cache": cache}, twice(prev),
                                       rows, mutable=["cache"])
        return guide(logits), updated["cache"]

      codes = autoregressive.sample_cached(step_fn, cache, rng, num, n, temp, unroll, k_best)
    else:
      full_fn = lambda prev: guide(model.apply({"params": state.params}, twice(prev), rows))
      codes = autoregressive.sample_uncached(full_fn, rng, num, n, temp, k_best)
    return tok.decode_flat(state.extras["tokenizer"], codes)

  return Family(create_state=create_state, train_step=train_step, eval_step=eval_step,
                grad_accum=True,
                sample=sample, conditional=True, network_calls=lambda **_: n)
