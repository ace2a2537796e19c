"""What the models over VQ codes (MaskGIT, its autoregressive baseline, Paella) train alike."""

import jax
import jax.numpy as jnp
import ml_collections
import optax


def optimizer(config: ml_collections.ConfigDict) -> optax.GradientTransformation:
  """AdamW (b2 0.96, MaskGIT's) with linear warmup to config.learning_rate, then cosine decay
  over the run, and config.weight_decay."""
  schedule = optax.warmup_cosine_decay_schedule(
      0.0, config.learning_rate, config.warmup_steps,
      max(config.num_train_steps, config.warmup_steps + 1))
  return optax.adamw(schedule, b1=0.9, b2=0.96, weight_decay=config.weight_decay)


def drop_labels(rng: jax.Array, labels: jax.Array, p: float, null_label: int) -> jax.Array:
  """labels [b] with each replaced by the null label with probability p (for classifier-free
  guidance: the network learns the unconditional model too)."""
  return jnp.where(jax.random.bernoulli(rng, p, labels.shape), null_label, labels)
