"""Family "ncsn": a noise-conditional score network (Song & Ermon 2019) on the U-Net.

The U-Net is conditioned on the index of the noise level, as it is on a timestep in DDPM; its
output divided by sigma is the score (see score.py).
"""

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxgen.diffusion import score
from jaxgen.diffusion.components import make_unet, optimizer, to_signed, to_unit
from jaxgen.errors import UserError
from jaxgen.train import accumulate, state as train_state
from jaxgen.train.family import DataSpec, Family


# Samplers: annealed Langevin dynamics, consistent annealed sampling, predictor-corrector.
SAMPLERS = ("als", "cas", "pc")


def make(config: ml_collections.ConfigDict, data_spec: DataSpec) -> Family:
  """Builds the "ncsn" family; config.ncsn holds sigma_max, sigma_min, num_scales and sampling."""
  n = config.ncsn
  sigmas = score.geometric_sigmas(n.sigma_max, n.sigma_min, n.num_scales)  # [L], descending
  host_sigmas = np.asarray(sigmas, np.float64)  # checked on the host, also while sample traces
  h, w, c = data_spec.image_shape
  net = make_unet(config, data_spec, c, None)
  tx = optimizer(config)
  accum_steps = accumulate.steps_from_config(config)
  ema_decay = config.get("ema_decay", 0.999)

  def net_fn(params, train=False, rng=None):
    rngs = {"dropout": rng} if rng is not None else None
    return lambda x, i: net.apply({"params": params}, x, i, train=train, rngs=rngs)

  def create_state(rng, example_batch):
    params = net.init(rng, jnp.zeros((1, h, w, c)), jnp.zeros((1,), jnp.int32))["params"]
    return train_state.create(params, tx, ema=True)

  def loss_fn(params, batch, rng):
    x = to_signed(batch["image"])  # [b, h, w, c]
    d_rng, l_rng = jax.random.split(rng)
    return score.dsm_loss(net_fn(params, True, d_rng), sigmas, x, l_rng)

  def train_step(state, batch, rng):
    (_, aux), grads = accumulate.value_and_grad(loss_fn, state.params, batch, rng, accum_steps)
    return train_state.apply_gradients(state, grads, tx, ema_decay), aux

  def eval_step(state, batch, rng):
    _, aux = score.dsm_loss(net_fn(state.ema_params), sigmas, to_signed(batch["image"]), rng)
    return aux

  def sample(state, rng, num, labels=None, *, sampler: str | None = None,
             steps_per_sigma: int | None = None, step_lr: float | None = None,
             denoise: bool | None = None, snr: float | None = None):
    """Draws `num` images from uniform noise, by annealed Langevin dynamics (sampler "als",
    Song & Ermon), consistent annealed sampling ("cas", one step a level) or predictor-corrector
    sampling ("pc": `steps_per_sigma` Langevin corrector steps at signal-to-noise ratio `snr`,
    then an ancestral step, which ends denoised); `labels` is ignored (unconditional). Keyword
    overrides (tuned on validation by experiments.score) default to config.ncsn."""
    del labels
    kind = n.get("sampler", "als") if sampler is None else sampler
    if kind not in SAMPLERS:
      raise UserError(f"ncsn samples with {', '.join(SAMPLERS)}, not {kind!r}")
    default_steps = n.get("corrector_steps", 1) if kind == "pc" else n.steps_per_sigma
    steps = default_steps if steps_per_sigma is None else int(steps_per_sigma)
    lr = n.step_lr if step_lr is None else float(step_lr)
    final = n.get("denoise", True) if denoise is None else bool(denoise)
    ratio = n.get("snr", 0.16) if snr is None else float(snr)  # 0.16: Song et al.'s VE figure
    if kind == "pc":
      if steps < 0 or not ratio > 0:
        raise UserError(f"predictor-corrector sampling needs steps >= 0 corrector steps and a "
                        f"positive snr; got steps {steps}, snr {ratio:g}")
      return _run(state.ema_params, rng, num, kind, steps, ratio, False)
    if steps < 1 or lr <= 0:
      raise UserError(f"annealed Langevin needs steps >= 1 and a positive step size; got "
                      f"steps {steps}, lr {lr:g}")
    if kind == "cas":
      try:
        score.cas_noise_scale(host_sigmas, lr / host_sigmas[-1] ** 2)
      except ValueError as e:
        raise UserError(str(e)) from None
    return _run(state.ema_params, rng, num, kind, steps, lr, final)

  def _draw(params, rng, num, kind, steps, step_size, final):
    """`step_size`: the Langevin step_lr for "als" and "cas", the corrector's snr for "pc"."""
    x_rng, l_rng = jax.random.split(rng)
    # Song & Ermon start from uniform noise; the first, largest sigma makes the start irrelevant.
    x = jax.random.uniform(x_rng, (num, h, w, c), minval=-1.0, maxval=1.0)
    if kind == "pc":
      x = score.predictor_corrector(net_fn(params), sigmas, x, l_rng, steps, step_size)
    elif kind == "cas":
      x = score.consistent_annealed_sampling(net_fn(params), sigmas, x, l_rng, step_size,
                                                final)
    else:
      x = score.annealed_langevin(net_fn(params), sigmas, x, l_rng, steps, step_size, final)
    return to_unit(x)

  _run = jax.jit(_draw, static_argnums=(2, 3, 4, 5, 6))
  return Family(create_state=create_state, train_step=train_step, eval_step=eval_step,
                grad_accum=True,
                sample=sample)
