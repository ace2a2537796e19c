"""Family "ddpm": DDPM, improved DDPM (cosine, learned variance, hybrid loss) and classifier-free guidance.

Which of them is a matter of config: config.diffusion picks schedule, mean/variance/loss types;
config.conditional with config.p_uncond > 0 trains one network for CFG (Ho & Salimans 2022).
"""

import dataclasses
import functools
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from jaxgen.diffusion import guidance, losses, process, samplers, schedules
from jaxgen.diffusion.family import make_schedule, make_spec, make_unet, optimizer, to_signed, to_unit
from jaxgen.errors import UserError
from jaxgen.train import state as train_state
from jaxgen.train.family import DataSpec, Family


@dataclasses.dataclass(frozen=True)
class SampleSettings:
  """Static sampling choices; each distinct value compiles one sampler."""

  kind: str = "ddim"  # "ddpm" (ancestral) or "ddim"
  num_steps: int = 50  # respaced steps; the full T when equal to it
  eta: float = 0.0  # DDIM only
  guided: bool = False  # classifier-free guidance (needs a conditional model)


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
  ema_decay = config.get("ema_decay", 0.9999)
  s = config.sampler
  defaults = SampleSettings(s.kind, min(s.num_steps, len(betas)), s.get("eta", 0.0))
  default_w = float(s.get("guidance_scale", 0.0))

  def model_fn(params, labels, train=False, rng=None):
    rngs = {"dropout": rng} if rng is not None else None
    return lambda x, t: net.apply({"params": params}, x, t, labels, train=train, rngs=rngs)

  def create_state(rng, example_batch):
    x = jnp.zeros((1, h, w, c), jnp.float32)
    labels = jnp.zeros((1,), jnp.int32) if conditional else None
    params = net.init(rng, x, jnp.zeros((1,), jnp.int32), labels)["params"]
    return train_state.create(params, tx, ema=True)

  def train_step(state, batch, rng):
    x0 = to_signed(batch["image"])  # [b, h, w, c]
    d_rng, l_rng, y_rng = jax.random.split(rng, 3)
    labels = batch["label"] if conditional else None
    if conditional and p_uncond > 0:
      labels = guidance.drop_labels(y_rng, labels, p_uncond, null_label)

    def loss_fn(params):
      return losses.training_loss(spec, sched, model_fn(params, labels, True, d_rng), x0, l_rng)

    (_, aux), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    state = train_state.apply_gradients(state, grads, tx, ema_decay)
    return state, dict(aux, grad_norm=optax.tree.norm(grads))

  def eval_step(state, batch, rng):
    """Loss terms with the EMA params, and an unbiased one-t estimate of the NLL bound."""
    x0 = to_signed(batch["image"])
    labels = batch["label"] if conditional else None
    fn = model_fn(state.ema_params, labels)
    l_rng, t_rng, n_rng = jax.random.split(rng, 3)
    _, aux = losses.training_loss(spec, sched, fn, x0, l_rng)
    t = jax.random.randint(t_rng, (x0.shape[0],), 0, sched.num_timesteps)
    xt = process.q_sample(sched, x0, t, jax.random.normal(n_rng, x0.shape))
    # E_t[T * L_t] + L_T is the whole bound, since t is uniform over T steps.
    nll = sched.num_timesteps * losses.vlb_term(spec, sched, fn(xt, t), x0, xt, t)
    return dict(aux, nll_bpd=jnp.mean(nll + losses.prior_bpd(sched, x0)))

  @functools.partial(jax.jit, static_argnames=("num", "settings", "classifier"))
  def _sample(params, rng, labels, cfg_w, classifier_params, classifier_scale, *, num, settings,
              classifier):
    if settings.num_steps == len(betas):
      run_sched, ts = sched, None
    else:
      run_sched, ts = schedules.respace(betas, settings.num_steps)
    fn = model_fn(params, labels if conditional else None)
    if settings.guided:
      fn = guidance.classifier_free(spec, lambda x, t, y: net.apply({"params": params}, x, t, y),
                                    labels, null_label, cfg_w)
    cond_fn = None
    if classifier is not None:
      logits_fn = lambda x, t: classifier.apply({"params": classifier_params}, x, t)
      cond_fn = guidance.classifier_grad(logits_fn, labels, classifier_scale)
    if ts is not None:
      fn = samplers.respaced_model_fn(fn, ts)
      cond_fn = cond_fn and samplers.respaced_model_fn(cond_fn, ts)
    noise_rng, run_rng = jax.random.split(rng)
    x_T = jax.random.normal(noise_rng, (num, h, w, c), jnp.float32)
    if settings.kind == "ddpm":
      x0 = samplers.ddpm_sample(spec, run_sched, fn, x_T, run_rng, cond_fn)
    else:
      x0 = samplers.ddim_sample(spec, run_sched, fn, x_T, run_rng, settings.eta, cond_fn)
    return to_unit(x0)

  def sample(state, rng, num, labels=None, *, kind: str | None = None, num_steps: int | None = None,
             eta: float | None = None, guidance_scale: float | None = None,
             classifier: tuple[nn.Module, Any] | None = None, classifier_scale: float = 1.0):
    """Draws `num` images [num, h, w, c] in [0, 1] with the EMA params.

    Keyword overrides default to config.sampler. `guidance_scale` w > 0 applies classifier-free
    guidance; `classifier=(module, params)` applies classifier guidance with `classifier_scale`.
    Labels default to 0, 1, ..., num_classes - 1, repeated.
    """
    settings = dataclasses.replace(
        defaults, kind=kind or defaults.kind,
        num_steps=min(num_steps or defaults.num_steps, len(betas)),
        eta=defaults.eta if eta is None else eta)
    if settings.kind not in ("ddpm", "ddim"):
      raise UserError(f"sampler kind must be 'ddpm' or 'ddim', got {settings.kind!r}")
    cfg_w = default_w if guidance_scale is None else guidance_scale
    if cfg_w and not conditional:
      raise UserError("classifier-free guidance needs a conditional model (config.conditional)")
    settings = dataclasses.replace(settings, guided=bool(cfg_w))
    if labels is None:
      labels = jnp.arange(num, dtype=jnp.int32) % data_spec.num_classes
    module, cls_params = classifier if classifier is not None else (None, None)
    return _sample(state.ema_params, rng, jnp.asarray(labels, jnp.int32), jnp.float32(cfg_w),
                   cls_params, jnp.float32(classifier_scale), num=num, settings=settings,
                   classifier=module)

  nll_examples = int(config.get("nll_eval_examples", 0))

  @jax.jit
  def _full_bpd(params, x0, labels, rng):
    return losses.full_vlb(spec, sched, model_fn(params, labels), x0, rng)["total_bpd"]  # [b]

  def evaluate(state, split, rng):
    """The exact bound (all T terms) in bits/dim on the first config.nll_eval_examples images.

    `split` is the loop's test split (with `eval_batches`) or any iterable of batches.
    """
    batches = split.eval_batches(config.batch_size, 1) if hasattr(split, "eval_batches") else split
    totals, seen = [], 0
    for i, batch in enumerate(batches):
      if seen >= nll_examples:
        break
      labels = jnp.asarray(batch["label"]) if conditional else None
      bpd = _full_bpd(state.ema_params, to_signed(jnp.asarray(batch["image"])), labels,
                      jax.random.fold_in(rng, i))
      totals.append(np.asarray(bpd)[:nll_examples - seen])
      seen += len(totals[-1])
    return {"nll_bpd_full": float(np.mean(np.concatenate(totals)))} if totals else {}

  return Family(create_state=create_state, train_step=train_step, eval_step=eval_step,
                sample=sample, conditional=conditional,
                evaluate=evaluate if nll_examples > 0 else None)
