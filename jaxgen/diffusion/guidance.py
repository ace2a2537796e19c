"""Guidance: classifier guidance (Dhariwal & Nichol 2021) and classifier-free guidance (Ho & Salimans 2022).

Both return plain callables for the samplers: a guided `model_fn(x_t, t)` (classifier-free) or a
`cond_fn(x_t, t)` giving gamma * grad_x log p(y | x_t) (classifier guidance).
"""

from typing import Callable

import jax
import jax.numpy as jnp

from jaxgen.diffusion.process import Spec, split_output

# (x_t, t, labels) -> network output; labels == null_label means "no class". Labels may also be
# token sequences [b, L]: the null condition is then the sequence of null_label (empty prompt).
LabelledModelFn = Callable[[jax.Array, jax.Array, jax.Array], jax.Array]
# (x_t, t) -> logits [b, num_classes] of a classifier trained on noisy inputs.
ClassifierFn = Callable[[jax.Array, jax.Array], jax.Array]


def drop_labels(rng: jax.Array, labels: jax.Array, p_uncond: float, null_label: int) -> jax.Array:
  """Replaces each example's condition by `null_label` with probability p_uncond (CFG
  training). labels [b], or [b, L] token sequences, which are dropped whole."""
  drop = jax.random.bernoulli(rng, p_uncond, labels.shape[:1])  # [b]
  return jnp.where(drop.reshape((-1,) + (1,) * (labels.ndim - 1)), null_label, labels)


def classifier_free(spec: Spec, model_fn: LabelledModelFn, labels: jax.Array,
                    null_label: int | jax.Array,
                    w: float | jax.Array) -> Callable[[jax.Array, jax.Array], jax.Array]:
  """Guided model: eps~ = (1 + w) eps(x, y) - w eps(x) (Ho & Salimans eq. 6).

  labels: what model_fn reads as its condition, [b, ...] (labels, prompt tokens, or encoded
  contexts); null_label: the null condition, a scalar or an array of labels' shape.

  The conditional and unconditional passes share one network call on a doubled batch. Any mean
  parameterisation combines the same way, since x_0, eps and v are affine in one another with
  the same coefficients for both passes. A learned variance is taken from the conditional pass.
  """

  def guided(x: jax.Array, t: jax.Array) -> jax.Array:
    b = x.shape[0]
    both = model_fn(jnp.concatenate([x, x]), jnp.concatenate([t, t]),
                    jnp.concatenate([labels, jnp.broadcast_to(
                        jnp.asarray(null_label, labels.dtype), labels.shape)]))  # [2b, ...]
    cond, uncond = both[:b], both[b:]
    mean_c, var_c = split_output(spec, cond)
    mean_u, _ = split_output(spec, uncond)
    mean = (1.0 + w) * mean_c - w * mean_u
    return mean if var_c is None else jnp.concatenate([mean, var_c], axis=-1)

  return guided


def classifier_grad(classifier_fn: ClassifierFn, labels: jax.Array,
                    scale: float | jax.Array) -> Callable[[jax.Array, jax.Array], jax.Array]:
  """cond_fn(x_t, t) = scale * grad_x log p(y | x_t, t) for the samplers' classifier guidance."""

  def log_prob(x: jax.Array, t: jax.Array) -> jax.Array:
    logits = classifier_fn(x, t)  # [b, k]
    log_p = jax.nn.log_softmax(logits)
    # Summing over the batch is fine: example i's log-prob depends only on x[i].
    return jnp.sum(jnp.take_along_axis(log_p, labels[:, None], axis=1))

  grad = jax.grad(log_prob)
  return lambda x, t: scale * grad(x, t)
