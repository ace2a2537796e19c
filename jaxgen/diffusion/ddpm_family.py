"""Family "ddpm": DDPM, improved DDPM (cosine, learned variance, hybrid loss) and classifier-free guidance.

Which of them is a matter of config: config.diffusion picks schedule, mean/variance/loss types;
config.conditional with config.p_uncond > 0 trains one network for CFG (Ho & Salimans 2022).
"""

import functools
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from jaxgen.diffusion import guidance, likelihood, losses, process, samplers
from jaxgen.diffusion.samplers import SampleSettings
from jaxgen.diffusion.components import make_schedule, make_spec, make_unet, optimizer, to_signed, to_unit
from jaxgen.errors import UserError
from jaxgen.metrics import intervals
from jaxgen.train import accumulate, state as train_state
from jaxgen.train.family import DataSpec, Family


def make(config: ml_collections.ConfigDict, data_spec: DataSpec) -> Family:
  """Builds the "ddpm" family from config (see experiments/configs/ddpm.py for the fields)."""
  spec = make_spec(config)
  betas, sched = make_schedule(config)
  conditional = bool(config.get("conditional", False))
  null_label = data_spec.num_classes
  p_uncond = float(config.get("p_uncond", 0.0))
  h, w, c = data_spec.image_shape
  net = make_unet(config, data_spec, c * spec.output_multiplier,
                  data_spec.num_classes if conditional else None)
  tx = optimizer(config)
  accum_steps = accumulate.steps_from_config(config)
  ema_decay = config.get("ema_decay", 0.9999)
  s = config.sampler
  defaults = SampleSettings.from_config(s, len(betas))
  default_w = float(s.get("guidance_scale", 0.0))

  def model_fn(params, labels, train=False, rng=None):
    rngs = {"dropout": rng} if rng is not None else None
    return lambda x, t: net.apply({"params": params}, x, t, labels, train=train, rngs=rngs)

  def create_state(rng, example_batch):
    x = jnp.zeros((1, h, w, c), jnp.float32)
    labels = jnp.zeros((1,), jnp.int32) if conditional else None
    params = net.init(rng, x, jnp.zeros((1,), jnp.int32), labels)["params"]
    return train_state.create(params, tx, ema=True)

  def loss_fn(params, batch, rng):
    x0 = to_signed(batch["image"])  # [b, h, w, c]
    d_rng, l_rng, y_rng = jax.random.split(rng, 3)
    labels = batch["label"] if conditional else None
    if conditional and p_uncond > 0:
      labels = guidance.drop_labels(y_rng, labels, p_uncond, null_label)
    return losses.training_loss(spec, sched, model_fn(params, labels, True, d_rng), x0, l_rng)

  def train_step(state, batch, rng):
    (_, aux), grads = accumulate.value_and_grad(loss_fn, state.params, batch, rng, accum_steps)
    state = train_state.apply_gradients(state, grads, tx, ema_decay)
    return state, dict(aux, grad_norm=optax.tree.norm(grads))

  # A conditional model's likelihood is -log p(x|y): named apart so no table mixes the two.
  nll_key = "cond_nll_bpd" if conditional else "nll_bpd"

  def eval_step(state, batch, rng):
    """Loss terms with the EMA params, and the one-t estimate of the NLL bound per image [b]
    (unbiased, but with a standard error of the order of 1 bit/dim over a thousand images;
    `evaluate` gives the figure to compare)."""
    x0 = to_signed(batch["image"])
    labels = batch["label"] if conditional else None
    fn = model_fn(state.ema_params, labels)
    l_rng, t_rng, n_rng = jax.random.split(rng, 3)
    _, aux = losses.training_loss(spec, sched, fn, x0, l_rng)
    t = jax.random.randint(t_rng, (x0.shape[0],), 0, sched.num_timesteps)
    xt = process.q_sample(sched, x0, t, jax.random.normal(n_rng, x0.shape))
    # E_t[T * L_t] + L_T is the whole bound, since t is uniform over T steps.
    nll = sched.num_timesteps * losses.vlb_term(spec, sched, fn(xt, t), x0, xt, t)
    return dict(aux, **{nll_key + "_one_t": nll + losses.prior_bpd(sched, x0)})  # [b]

  @functools.partial(jax.jit, static_argnames=("num", "settings", "classifier"))
  def _sample(params, rng, labels, cfg_w, classifier_params, classifier_scale, *, num, settings,
              classifier):
    fn = model_fn(params, labels if conditional else None)
    if settings.guided:
      fn = guidance.classifier_free(spec, lambda x, t, y: net.apply({"params": params}, x, t, y),
                                    labels, null_label, cfg_w)
    cond_fn = None
    if classifier is not None:
      logits_fn = lambda x, t: classifier.apply({"params": classifier_params}, x, t)
      cond_fn = guidance.classifier_grad(logits_fn, labels, classifier_scale)
    noise_rng, run_rng = jax.random.split(rng)
    x_T = jax.random.normal(noise_rng, (num, h, w, c), jnp.float32)
    return to_unit(samplers.run_chain(spec, betas, sched, fn, x_T, run_rng, settings, cond_fn))

  def sample(state, rng, num, labels=None, *, kind: str | None = None, num_steps: int | None = None,
             eta: float | None = None, spacing: str | None = None,
             guidance_scale: float | None = None,
             classifier: tuple[nn.Module, Any] | None = None, classifier_scale: float = 1.0):
    """Draws `num` images [num, h, w, c] in [0, 1] with the EMA params.

    Keyword overrides default to config.sampler. `guidance_scale` w > 0 applies classifier-free
    guidance; `classifier=(module, params)` applies classifier guidance with `classifier_scale`.
    Labels default to 0, 1, ..., num_classes - 1, repeated.
    """
    cfg_w = default_w if guidance_scale is None else guidance_scale
    if cfg_w and not conditional:
      raise UserError("classifier-free guidance needs a conditional model (config.conditional)")
    settings = defaults.overridden(kind, num_steps, eta, bool(cfg_w), len(betas), spacing)
    if labels is None:
      labels = jnp.arange(num, dtype=jnp.int32) % data_spec.num_classes
    module, cls_params = classifier if classifier is not None else (None, None)
    return _sample(state.ema_params, rng, jnp.asarray(labels, jnp.int32), jnp.float32(cfg_w),
                   cls_params, jnp.float32(classifier_scale), num=num, settings=settings,
                   classifier=module)

  nll_examples = int(config.get("nll_eval_examples", 0))
  estimator = config.get("nll_estimator", "importance")
  if estimator not in ("importance", "full"):
    raise UserError(f"config.nll_estimator must be 'importance' or 'full', got {estimator!r}")
  num_exact = min(int(config.get("nll_exact_terms", 8)), len(betas) - 1)
  num_draws = int(config.get("nll_draws", 24))

  @jax.jit
  def _full_vlb(params, x0, labels, rng):
    return losses.full_vlb(spec, sched, model_fn(params, labels), x0, rng)

  def vlb_terms(state, images, labels, rng) -> dict[str, np.ndarray]:
    """Every term of the bound of `images` [b, h, w, c] in [0, 1] (labels [b], or None when
    unconditional) under the EMA weights, `losses.full_vlb`'s dict as float64 host arrays:
    "total_bpd" [b], "prior_bpd" [b], "vb" [b, T], "mse" [b, T]."""
    y = jnp.asarray(labels) if conditional else None
    out = _full_vlb(state.ema_params, to_signed(jnp.asarray(images)), y, rng)
    return {k: np.asarray(v, np.float64) for k, v in out.items()}

  @jax.jit
  def _profile(params, x0, labels, rng, ts):
    return likelihood.term_profile(spec, sched, model_fn(params, labels), x0, rng, ts)  # [g, b]

  @jax.jit
  def _sampled_bpd(params, x0, labels, rng, proposal):
    return likelihood.importance_sampled_vlb(spec, sched, model_fn(params, labels), x0, rng,
                                             proposal, num_exact, num_draws)  # [b]

  def nll_per_image(state, split, rng, num: int | None = None, progress=None) -> np.ndarray:
    """The bound in bits/dim, [n], on the first `num` (default config.nll_eval_examples)
    images of `split` (a SplitData or an iterable of batches), with config.nll_estimator:
    "full" (all T terms) or "importance" (exact small-t terms, importance-sampled rest, the
    proposal measured on the first 16 of those images with independent noise). `progress`,
    if given, is called with the number of images done after each batch."""
    num = nll_examples if num is None else num
    batches = split.eval_batches(config.batch_size, 1) if hasattr(split, "eval_batches") else split
    chosen = []
    for batch in batches:
      take = min(len(batch["image"]), num - sum(len(c[0]) for c in chosen))
      if take <= 0:
        break
      chosen.append((to_signed(jnp.asarray(batch["image"][:take])),
                     jnp.asarray(batch["label"][:take]) if conditional else None))
    if not chosen:
      return np.zeros((0,))
    pilot_rng, rng = jax.random.split(rng)  # the pilot's noise is independent of the estimate's
    proposal = None
    if estimator == "importance":
      x_pilot, y_pilot = chosen[0][0][:16], None if chosen[0][1] is None else chosen[0][1][:16]
      ts = np.unique(np.geomspace(num_exact, len(betas) - 1, 48).astype(np.int64))
      terms = _profile(state.ema_params, x_pilot, y_pilot, pilot_rng, jnp.asarray(ts))
      proposal = jnp.asarray(likelihood.proposal_from_profile(
          ts, np.asarray(terms), len(betas), num_exact), jnp.float32)
    out = []
    for i, (x0, labels) in enumerate(chosen):
      key = jax.random.fold_in(rng, i)
      out.append(np.asarray(
          _full_vlb(state.ema_params, x0, labels, key)["total_bpd"] if proposal is None
          else _sampled_bpd(state.ema_params, x0, labels, key, proposal)))
      if progress is not None:
        progress(sum(len(o) for o in out))
    return np.concatenate(out)

  def evaluate(state, split, rng):
    """The bound (config.nll_estimator) on config.nll_eval_examples images, with its standard
    error over images: {"nll_bpd_bound", "nll_bpd_bound_se"} (cond_ prefix: -log p(x|y))."""
    values = nll_per_image(state, split, rng)
    if not len(values):
      return {}
    mean, se = intervals.mean_and_se(values)
    return {nll_key + "_bound": mean, nll_key + "_bound_se": se}

  return Family(create_state=create_state, train_step=train_step, eval_step=eval_step,
                grad_accum=True,
                sample=sample, conditional=conditional,
                evaluate=evaluate if nll_examples > 0 else None, nll_per_image=nll_per_image,
                nll_unit="bits/dim", vlb_terms=vlb_terms)
