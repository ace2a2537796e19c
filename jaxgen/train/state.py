"""TrainState: the pytree a train step maps to a new one, checkpointed whole by orbax."""

from typing import Any

import flax.struct
import jax
import jax.numpy as jnp
import optax

PyTree = Any


@flax.struct.dataclass
class TrainState:
  """Everything a run needs to resume exactly.

  Attributes:
    step: number of optimizer steps taken, a scalar int32 array.
    params: trainable parameters. Families with several players (GANs) keep a dict
      of them here, e.g. {"generator": ..., "discriminator": ...}.
    opt_state: optax state for `params` (a dict of states for several players).
    ema_params: exponential moving average of `params` used for sampling, or None.
    extras: other non-trainable state (batch-norm statistics, image pools, ...).
  """

  step: jax.Array
  params: PyTree
  opt_state: PyTree
  ema_params: PyTree | None = None
  extras: dict[str, PyTree] = flax.struct.field(default_factory=dict)


def create(params: PyTree, tx: optax.GradientTransformation, *, ema: bool = False,
           extras: dict[str, PyTree] | None = None) -> TrainState:
  """Builds the initial state for `params` optimised by `tx` (EMA copy if `ema`)."""
  return TrainState(
      step=jnp.zeros((), jnp.int32),
      params=params,
      opt_state=tx.init(params),
      ema_params=jax.tree.map(jnp.copy, params) if ema else None,
      extras=extras or {},
  )


def ema_update(ema_params: PyTree, params: PyTree, decay: float | jax.Array) -> PyTree:
  """Returns decay * ema + (1 - decay) * params, leaf by leaf."""
  return jax.tree.map(lambda e, p: decay * e + (1.0 - decay) * p, ema_params, params)


def apply_gradients(state: TrainState, grads: PyTree, tx: optax.GradientTransformation,
                    ema_decay: float | None = None) -> TrainState:
  """One optimizer update of `state.params` (and its EMA when the state keeps one)."""
  updates, opt_state = tx.update(grads, state.opt_state, state.params)
  params = optax.apply_updates(state.params, updates)
  ema_params = state.ema_params
  if ema_params is not None and ema_decay is not None:
    ema_params = ema_update(ema_params, params, ema_decay)
  return state.replace(step=state.step + 1, params=params, opt_state=opt_state,
                       ema_params=ema_params)
