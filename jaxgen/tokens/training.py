"""What the models over VQ codes (MaskGIT, its autoregressive baseline, Paella) train alike."""

import jax.numpy as jnp
import ml_collections
import optax

from jaxgen.train import accumulate
from jaxgen.train.state import apply_gradients


def optimizer(config: ml_collections.ConfigDict) -> optax.GradientTransformation:
  """AdamW (b2 0.96, MaskGIT's) with linear warmup to config.learning_rate, then cosine decay
  over the run, and config.weight_decay."""
  schedule = optax.warmup_cosine_decay_schedule(
      0.0, config.learning_rate, config.warmup_steps,
      max(config.num_train_steps, config.warmup_steps + 1))
  return optax.adamw(schedule, b1=0.9, b2=0.96, weight_decay=config.weight_decay)


def train_and_eval_steps(loss_and_metrics, tx: optax.GradientTransformation,
                         accum_steps: int = 1):
  """The train and eval steps of a code model from its
  `loss_and_metrics(params, state, batch, rng, train) -> (loss, metrics)`: the train step
  applies one optimizer update (from `accum_steps` microbatches), the eval step reports the
  loss (train=False) and metrics."""
  def train_step(state, batch, rng):
    (loss, metrics), grads = accumulate.value_and_grad(
        lambda p, b, r: loss_and_metrics(p, state, b, r, True), state.params, batch, rng,
        accum_steps)
    return apply_gradients(state, grads, tx), {"loss": loss, **metrics}

  def eval_step(state, batch, rng):
    loss, metrics = loss_and_metrics(state.params, state, batch, rng, False)
    return {"loss": loss, **metrics}

  return train_step, eval_step
