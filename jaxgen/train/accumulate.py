"""Gradient accumulation: one optimizer update from k microbatches, scanned inside the one jitted
train step, so a global batch larger than device memory trains like the large batch.

A family whose loss is a mean over independent examples (no batch statistics) gets the large
batch's gradient exactly, up to float rounding: the mean of k equal-sized microbatch means is
the batch mean. Randomness differs (each microbatch draws with its own key), as it would with any
other batch split. GANs are not accumulated: their players alternate within a step and their
batch-norm statistics would be those of a microbatch, so they refuse `grad_accum_steps > 1`.
"""

from typing import Any, Callable

import jax
import jax.numpy as jnp

from jaxgen.errors import UserError

PyTree = Any
LossFn = Callable[[PyTree, PyTree, jax.Array], tuple[jax.Array, dict[str, jax.Array]]]


def steps_from_config(config: Any) -> int:
  """config.grad_accum_steps (default 1), checked to divide config.batch_size."""
  k = int(config.get("grad_accum_steps", 1))
  if k < 1 or config.batch_size % k:
    raise UserError(f"grad_accum_steps={k} must be >= 1 and divide batch_size="
                    f"{config.batch_size}; pick a divisor of the batch size")
  return k


def split_microbatches(batch: PyTree, k: int) -> PyTree:
  """Each leaf [b, ...] -> [k, b // k, ...], microbatch j holding examples j, j + k, j + 2k, ...

  Strided rather than contiguous: a batch sharded in contiguous blocks over devices then gives
  every microbatch an equal share of every device's examples, so no data moves between devices.
  """
  def split(x):
    return jnp.swapaxes(x.reshape((x.shape[0] // k, k) + x.shape[1:]), 0, 1)
  return jax.tree.map(split, batch)


def merge_microbatches(stacked: jax.Array) -> jax.Array:
  """Inverse of `split_microbatches` for one leaf: [k, m, ...] -> [k * m, ...] in batch order."""
  return jnp.swapaxes(stacked, 0, 1).reshape((-1,) + stacked.shape[2:])


def value_and_grad(loss_fn: LossFn, params: PyTree, batch: PyTree, rng: jax.Array,
                   k: int) -> tuple[tuple[jax.Array, dict[str, jax.Array]], PyTree]:
  """((loss, aux), grads) of `loss_fn(params, batch, rng) -> (scalar mean loss, aux)`, computed
  over k microbatches of `batch` and averaged; k = 1 is `jax.value_and_grad` unchanged.

  aux leaves are scalars (averaged over microbatches) or per-example arrays with the batch
  leading (returned whole, in batch order). Microbatch j draws with `fold_in(rng, j)`.
  """
  grad_fn = jax.value_and_grad(loss_fn, has_aux=True)
  if k == 1:
    return grad_fn(params, batch, rng)
  micro = split_microbatches(batch, k)

  def body(grad_sum, xs):
    j, mb = xs
    (loss, aux), grads = grad_fn(params, mb, jax.random.fold_in(rng, j))
    return jax.tree.map(jnp.add, grad_sum, grads), (loss, aux)

  zeros = jax.tree.map(jnp.zeros_like, params)
  grad_sum, (losses, aux) = jax.lax.scan(body, zeros, (jnp.arange(k), micro))
  aux = jax.tree.map(lambda a: jnp.mean(a, 0) if a.ndim == 1 else merge_microbatches(a), aux)
  return (jnp.mean(losses), aux), jax.tree.map(lambda g: g / k, grad_sum)
