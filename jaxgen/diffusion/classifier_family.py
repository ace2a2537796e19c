"""Family "noisy_classifier": a classifier of noisy x_t for classifier guidance (Dhariwal & Nichol 2021).

It is trained on x_t ~ q(x_t | x_0) at uniform t of the same schedule as the diffusion model it
will guide (config.diffusion must match), so its gradient is informative at every step.
"""

from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import optax

from jaxgen.data.augment import random_shift
from jaxgen.diffusion import process
from jaxgen.diffusion.components import make_schedule, optimizer, to_signed
from jaxgen.errors import UserError
from jaxgen.nets.noisy_classifier import NoisyClassifier
from jaxgen.train import state as train_state
from jaxgen.train.family import DataSpec, Family


def classifier_module(config: ml_collections.ConfigDict, data_spec: DataSpec) -> NoisyClassifier:
  """The classifier described by config.model; also what a guided sampler needs to apply it."""
  m = config.model
  return NoisyClassifier(num_classes=data_spec.num_classes, base_channels=m.base_channels,
                         channel_mult=tuple(m.channel_mult), num_res_blocks=m.num_res_blocks,
                         attention_resolutions=tuple(m.attention_resolutions), dropout=m.dropout)


def load_guide(workdir: str, diffusion: ml_collections.ConfigDict) -> tuple[NoisyClassifier, Any]:
  """(module, EMA params) of the noisy_classifier trained in `workdir`, to guide a sampler.

  `diffusion` is the guided model's config.diffusion: the classifier only knows the x_t of the
  schedule it was trained on, so a different schedule or T is refused with a one-line error.
  """
  from jaxgen.train.restore import restore_trained  # the loop imports this module's family
  guide = restore_trained(workdir)
  if guide.config.family != "noisy_classifier":
    raise UserError(f"{workdir} holds a {guide.config.family} run, not a noisy_classifier; "
                    "train one with experiments/configs/noisy_classifier.py")
  theirs = (guide.config.diffusion.schedule, guide.config.diffusion.num_timesteps)
  ours = (diffusion.schedule, diffusion.num_timesteps)
  if theirs != ours:
    raise UserError(f"the classifier in {workdir} was trained on a {theirs[0]} schedule with "
                    f"T={theirs[1]}, the model samples a {ours[0]} one with T={ours[1]}; train "
                    "the classifier with the model's config.diffusion")
  return classifier_module(guide.config, guide.spec), guide.state.ema_params


def make(config: ml_collections.ConfigDict, data_spec: DataSpec) -> Family:
  """Builds the "noisy_classifier" family (no sampler: it only guides a diffusion model)."""
  _, sched = make_schedule(config)
  net = classifier_module(config, data_spec)
  tx = optimizer(config)
  ema_decay = config.get("ema_decay", 0.999)
  # Random translations of x_0 in training: 4,000 digits seen ~50 times each otherwise let the
  # classifier memorise strokes, and a memorising classifier's gradient is adversarial noise.
  max_shift = config.get("augment_shift", 0)
  h, w, c = data_spec.image_shape

  def create_state(rng, example_batch):
    params = net.init(rng, jnp.zeros((1, h, w, c)), jnp.zeros((1,), jnp.int32))["params"]
    return train_state.create(params, tx, ema=True)

  def noisy_metrics(params, batch, rng, train):
    """Cross-entropy and accuracy on x_t at uniform t, [b] labels."""
    t_rng, n_rng, d_rng, a_rng = jax.random.split(rng, 4)
    image = random_shift(a_rng, batch["image"], max_shift) if train else batch["image"]
    x0 = to_signed(image)  # [b, h, w, c]
    t = jax.random.randint(t_rng, (x0.shape[0],), 0, sched.num_timesteps)
    xt = process.q_sample(sched, x0, t, jax.random.normal(n_rng, x0.shape))
    logits = net.apply({"params": params}, xt, t, train=train, rngs={"dropout": d_rng})  # [b, k]
    ce = optax.softmax_cross_entropy_with_integer_labels(logits, batch["label"])
    acc = jnp.mean(jnp.argmax(logits, -1) == batch["label"])
    return jnp.mean(ce), {"loss": jnp.mean(ce), "accuracy": acc}

  def train_step(state, batch, rng):
    grad_fn = jax.value_and_grad(lambda p: noisy_metrics(p, batch, rng, True), has_aux=True)
    (_, aux), grads = grad_fn(state.params)
    return train_state.apply_gradients(state, grads, tx, ema_decay), aux

  def eval_step(state, batch, rng):
    _, aux = noisy_metrics(state.ema_params, batch, rng, False)
    # Accuracy on clean inputs (t = 0), the upper end of what guidance can exploit, and at
    # fixed noise levels, where the guide's gradient decides what the sample becomes.
    x0 = to_signed(batch["image"])  # [b, h, w, c]
    for t_fixed in (0, 100, 250, 500):
      t = jnp.full(batch["label"].shape, min(t_fixed, sched.num_timesteps - 1), jnp.int32)
      noise = jax.random.normal(jax.random.fold_in(rng, t_fixed), x0.shape)
      xt = x0 if t_fixed == 0 else process.q_sample(sched, x0, t, noise)
      logits = net.apply({"params": state.ema_params}, xt, t)
      name = "accuracy_clean" if t_fixed == 0 else f"accuracy_t{t_fixed}"
      aux[name] = jnp.mean(jnp.argmax(logits, -1) == batch["label"])
    return aux

  return Family(create_state=create_state, train_step=train_step, eval_step=eval_step, sample=None)
