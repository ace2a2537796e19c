"""Training the CNN classifier through the shared loop."""

import jax
import jax.numpy as jnp
import ml_collections
import optax

from jaxgen.nets.classifier import CNNClassifier
from jaxgen.train import state as state_lib
from jaxgen.train.family import Batch, DataSpec, Family, Metrics


def build_model(config: ml_collections.ConfigDict, spec: DataSpec) -> CNNClassifier:
  """The classifier network for `spec`'s images and classes."""
  return CNNClassifier(num_classes=spec.num_classes, channels=tuple(config.channels),
                       feature_dim=config.feature_dim, dropout=config.get("dropout", 0.0))


def make_family(config: ml_collections.ConfigDict, spec: DataSpec) -> Family:
  """Cross-entropy training of a CNN on (image, label) batches."""
  model = build_model(config, spec)
  tx = optax.adamw(config.learning_rate, weight_decay=config.get("weight_decay", 1e-4))

  def create_state(rng: jax.Array, batch: Batch) -> state_lib.TrainState:
    params = model.init(rng, batch["image"][:1])["params"]
    return state_lib.create(params, tx)

  def loss_fn(params, batch: Batch, rng: jax.Array, train: bool):
    logits = model.apply({"params": params}, batch["image"], train=train, rngs={"dropout": rng})
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, batch["label"]).mean()
    accuracy = jnp.mean(jnp.argmax(logits, -1) == batch["label"])
    return loss, {"loss": loss, "accuracy": accuracy}

  def train_step(state, batch: Batch, rng: jax.Array) -> tuple[state_lib.TrainState, Metrics]:
    grads, metrics = jax.grad(loss_fn, has_aux=True)(state.params, batch, rng, True)
    return state_lib.apply_gradients(state, grads, tx), metrics

  def eval_step(state, batch: Batch, rng: jax.Array) -> Metrics:
    return loss_fn(state.params, batch, rng, False)[1]

  return Family(create_state=create_state, train_step=train_step, eval_step=eval_step)
