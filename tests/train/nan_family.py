"""A classifier family whose loss turns NaN from a chosen step on (to test the NaN guard)."""

import jax.numpy as jnp

from jaxgen.classifier import family as classifier


def make_family(config, spec):
  base = classifier.make_family(config, spec)

  def train_step(state, batch, rng):
    new, metrics = base.train_step(state, batch, rng)
    poison = jnp.where(state.step >= config.nan_from_step, jnp.nan, 0.0)
    return new, {**metrics, "loss": metrics["loss"] + poison}

  return base.__class__(create_state=base.create_state, train_step=train_step,
                        eval_step=base.eval_step)
