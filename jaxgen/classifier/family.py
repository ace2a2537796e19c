"""Training a classifier (the CNN, or a Vision Transformer) through the shared loop.

Config fields: model ("cnn", the default, "mlp" or "vit"), learning_rate, weight_decay,
dropout; the CNN's channels and feature_dim; the MLP's hidden and feature_dim; the ViT's vit.{patch, dim, depth, num_heads, mlp_ratio,
pool, drop_path}. The small-data recipe (DeiT's for the ViT), all off unless set: max_shift
(random shifts of the train images, in pixels), affine (random rotation, scale, shear and
translation), elastic_alpha (elastic distortion's RMS displacement in pixels), mixup_alpha and
cutmix_alpha (one of the two per batch, as DeiT), label_smoothing, warmup_steps with a cosine
decay to 0 at num_train_steps. teacher_workdir (a trained classifier run, frozen in the state's
extras) trains a ViT with DeiT's distillation token on the teacher's hard labels: the loss is
the mean of the class head's cross-entropy and the distillation head's against the teacher's
argmax on the same augmented images.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import optax

from jaxgen.data.augment import mix, random_affine, random_elastic, random_shift
from jaxgen.errors import UserError
from jaxgen.nets.classifier import CNNClassifier, MLPClassifier
from jaxgen.nets.vit import ViT
from jaxgen.train import accumulate, state as state_lib
from jaxgen.train.family import Batch, DataSpec, Family, Metrics

MODELS = ("cnn", "mlp", "vit")


def build_model(config: ml_collections.ConfigDict, spec: DataSpec) -> nn.Module:
  """The classifier network for `spec`'s images and classes."""
  kind = config.get("model", "cnn")
  if kind == "cnn":
    return CNNClassifier(num_classes=spec.num_classes, channels=tuple(config.channels),
                         feature_dim=config.feature_dim, dropout=config.get("dropout", 0.0))
  if kind == "mlp":
    return MLPClassifier(num_classes=spec.num_classes, hidden=tuple(config.hidden),
                         feature_dim=config.feature_dim, dropout=config.get("dropout", 0.0))
  if kind == "vit":
    v = config.vit
    if not 0.0 <= v.get("drop_path", 0.0) < 1.0:
      raise UserError(f"vit.drop_path is a probability below 1, got {v.drop_path}")
    return ViT(num_classes=spec.num_classes, patch=v.patch, dim=v.dim, depth=v.depth,
               num_heads=v.num_heads, mlp_ratio=v.mlp_ratio, dropout=config.get("dropout", 0.0),
               pool=v.pool, drop_path=v.get("drop_path", 0.0),
               distill=bool(config.get("teacher_workdir")))
  raise UserError(f"unknown classifier model {kind!r}; known models: {', '.join(MODELS)}")


def learning_rate(config: ml_collections.ConfigDict) -> float | optax.Schedule:
  """Constant, or with warmup_steps > 0 a linear warmup then cosine decay to 0."""
  warmup = config.get("warmup_steps", 0)
  if not warmup:
    return config.learning_rate
  return optax.warmup_cosine_decay_schedule(0.0, config.learning_rate, warmup,
                                            max(config.num_train_steps, warmup + 1))


def load_teacher(workdir: str, spec: DataSpec) -> tuple[nn.Module, dict]:
  """A trained classifier run's network and parameters, to distil from; one-line errors for a
  run of another family or of other data."""
  from jaxgen.train.restore import restore_trained
  trained = restore_trained(workdir)
  if trained.config.family != "classifier":
    raise UserError(f"{workdir} holds a {trained.config.family} run; teacher_workdir must "
                    "name a classifier run")
  if (trained.spec.image_shape, trained.spec.num_classes) != (spec.image_shape,
                                                              spec.num_classes):
    raise UserError(f"{workdir}'s classifier reads {trained.spec.image_shape} images of "
                    f"{trained.spec.num_classes} classes, not this data's {spec.image_shape} "
                    f"of {spec.num_classes}")
  return build_model(trained.config, trained.spec), trained.state.params


def make_family(config: ml_collections.ConfigDict, spec: DataSpec) -> Family:
  """Cross-entropy training of a classifier on (image, label) batches."""
  if config.get("teacher_workdir") and config.get("model", "cnn") != "vit":
    raise UserError("teacher_workdir distils into a ViT (config.model='vit')")
  model = build_model(config, spec)
  teacher = None
  if config.get("teacher_workdir"):
    teacher, teacher_params = load_teacher(config.teacher_workdir, spec)
  tx = optax.adamw(learning_rate(config), weight_decay=config.get("weight_decay", 1e-4))
  accum_steps = accumulate.steps_from_config(config)
  max_shift, smoothing = config.get("max_shift", 0), config.get("label_smoothing", 0.0)
  affine, elastic = config.get("affine", False), config.get("elastic_alpha", 0.0)
  mixup_alpha, cutmix_alpha = config.get("mixup_alpha", 0.0), config.get("cutmix_alpha", 0.0)

  def create_state(rng: jax.Array, batch: Batch) -> state_lib.TrainState:
    params = model.init(rng, batch["image"][:1])["params"]
    extras = {"teacher": teacher_params} if teacher is not None else None
    return state_lib.create(params, tx, extras=extras)

  def loss_fn(params, batch: Batch, rng: jax.Array, train: bool, extras=None):
    if train and teacher is not None:
      logits, dist_logits = model.apply({"params": params}, batch["image"], train=True,
                                        heads=True, rngs={"dropout": rng})  # [b, C] each
      taught = jnp.argmax(teacher.apply({"params": jax.lax.stop_gradient(extras["teacher"])},
                                        batch["image"]), -1)  # [b]: the teacher's hard labels
      dist_loss = optax.softmax_cross_entropy_with_integer_labels(dist_logits, taught).mean()
    else:
      logits = model.apply({"params": params}, batch["image"], train=train,
                           rngs={"dropout": rng})
      dist_loss = None
    if train and "target" in batch:  # soft targets: smoothed and/or mixed
      loss = optax.softmax_cross_entropy(logits, batch["target"]).mean()  # target [b, classes]
    else:
      loss = optax.softmax_cross_entropy_with_integer_labels(logits, batch["label"]).mean()
    metrics = {"accuracy": jnp.mean(jnp.argmax(logits, -1) == batch["label"])}
    if dist_loss is not None:
      metrics["distillation_loss"] = dist_loss
      loss = (loss + dist_loss) / 2
    return loss, {"loss": loss, **metrics}

  def augment(batch: Batch, rng: jax.Array) -> tuple[Batch, jax.Array]:
    """The train batch under the configured augmentations, with soft targets where smoothing
    or mixing applies, and the key left for the step (each stage splits rng only when on, so
    a config without it trains exactly as before: the scorer's CNN among them)."""
    images = batch["image"]
    if max_shift:
      shift_rng, rng = jax.random.split(rng)
      images = random_shift(shift_rng, images, max_shift)
    if affine:
      affine_rng, rng = jax.random.split(rng)
      images = random_affine(affine_rng, images)
    if elastic:
      elastic_rng, rng = jax.random.split(rng)
      images = random_elastic(elastic_rng, images, elastic)
    out = {**batch, "image": images}
    if smoothing or mixup_alpha or cutmix_alpha:
      target = jax.nn.one_hot(batch["label"], spec.num_classes)
      if smoothing:
        target = optax.smooth_labels(target, smoothing)
      if mixup_alpha or cutmix_alpha:
        mix_rng, rng = jax.random.split(rng)  # its own key: microbatches fold the rest
        out["image"], target = mix(mix_rng, images, target, mixup_alpha, cutmix_alpha)
      out["target"] = target
    return out, rng

  def train_step(state, batch: Batch, rng: jax.Array) -> tuple[state_lib.TrainState, Metrics]:
    batch, rng = augment(batch, rng)
    (_, metrics), grads = accumulate.value_and_grad(
        lambda p, b, r: loss_fn(p, b, r, True, state.extras), state.params, batch, rng,
        accum_steps)
    return state_lib.apply_gradients(state, grads, tx), metrics

  def eval_step(state, batch: Batch, rng: jax.Array) -> Metrics:
    return loss_fn(state.params, batch, rng, False)[1]

  return Family(create_state=create_state, train_step=train_step, eval_step=eval_step,
                grad_accum=True)
