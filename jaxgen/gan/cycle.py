"""CycleGAN's step (Zhu et al. 2017) as pure functions: two generators, two discriminators.

G = generator "ab" maps domain A to B, F = "ba" maps B to A; discriminator "a" judges domain A,
"b" domain B. State layout: params["generator"] = {"ab", "ba"}, params["discriminator"] =
{"a", "b"}, one Adam state per player; extras["pool_a"], extras["pool_b"] hold the history pools
of generated A and B images, so a resumed run replays exactly. Networks are any Flax modules
mapping [b, h, w, c] -> [b, h, w, c] (generators) and [b, h, w, c] -> scores (discriminators).

With `semantic_weight > 0` a third player, params["semantic"], is a digit classifier trained in
the same step on domain A's labels only, and the generators also pay CyCADA's semantic
consistency (Hoffman et al. 2018): a translated image should keep the class the classifier reads
in its source (A's true label for G(a); the classifier's own reading of b for F(b)). Domain B's
labels are never used in training, and the classifier is not the evaluation's judge.
"""

import dataclasses

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from jaxgen.gan import losses, pool
from jaxgen.gan.adversarial import update_player
from jaxgen.gan.losses import AdversarialLoss
from jaxgen.train.family import Batch, Metrics
from jaxgen.train.state import TrainState


@dataclasses.dataclass(frozen=True)
class CycleSettings:
  """Loss weights and optimizer settings of CycleGAN."""

  learning_rate: float
  cycle_weight: float = 10.0  # lambda in the paper
  identity_weight: float = 5.0  # 0.5 * lambda, as the paper's photo experiments
  pool_size: int = 50
  loss: AdversarialLoss = AdversarialLoss.LEAST_SQUARES
  b1: float = 0.5
  b2: float = 0.999
  semantic_weight: float = 0.0  # 0: plain CycleGAN; > 0 needs CycleSteps.classifier
  # Std of Gaussian noise (in [-1, 1] units) added to every image the semantic classifier reads,
  # in its training and in the generators' semantic term. A translator can satisfy a fixed
  # classifier with low-amplitude patterns no other reader sees (CycleGAN's steganography,
  # Chu et al. 2017); noise drowns them, so the label has to travel in visible strokes.
  semantic_noise: float = 0.0


def _to_unit(x: jax.Array) -> jax.Array:
  """[-1, 1] -> [0, 1], clipped."""
  return jnp.clip((x + 1.0) / 2.0, 0.0, 1.0)


@dataclasses.dataclass(frozen=True)
class CycleSteps:
  """Pure create/train/eval functions and translation helpers for CycleGAN."""

  generator: nn.Module
  discriminator: nn.Module
  settings: CycleSettings
  classifier: nn.Module | None = None  # [b, h, w, c] in [0, 1] -> logits; for semantic_weight

  def __post_init__(self):
    if self.settings.semantic_weight and self.classifier is None:
      raise ValueError("semantic_weight > 0 needs a classifier")

  def optimizer(self) -> optax.GradientTransformation:
    """Adam, one instance per player."""
    return optax.adam(self.settings.learning_rate, b1=self.settings.b1, b2=self.settings.b2)

  def create_state(self, rng: jax.Array, example_batch: Batch) -> TrainState:
    """Initialises both generators, both discriminators, their Adam states and empty pools."""
    images = example_batch["image"][:1]  # [1, h, w, c]
    keys = jax.random.split(rng, 5)
    params = {
        "generator": {"ab": self.generator.init(keys[0], images)["params"],
                      "ba": self.generator.init(keys[1], images)["params"]},
        "discriminator": {"a": self.discriminator.init(keys[2], images)["params"],
                          "b": self.discriminator.init(keys[3], images)["params"]},
    }
    if self.settings.semantic_weight:
      params["semantic"] = self.classifier.init(keys[4], images)["params"]
    tx = self.optimizer()
    shape = tuple(images.shape[1:])
    return TrainState(step=jnp.zeros((), jnp.int32), params=params,
                      opt_state={p: tx.init(v) for p, v in params.items()},
                      extras={"pool_a": pool.init_pool(self.settings.pool_size, shape),
                              "pool_b": pool.init_pool(self.settings.pool_size, shape)})

  def _g(self, params, images: jax.Array) -> jax.Array:
    return self.generator.apply({"params": params}, images)

  def _d(self, params, images: jax.Array) -> jax.Array:
    return self.discriminator.apply({"params": params}, images)

  def _logits(self, params, images: jax.Array) -> jax.Array:
    """The semantic classifier on images [b, h, w, c] in [-1, 1] -> logits [b, classes]."""
    return self.classifier.apply({"params": params}, _to_unit(images))

  def _noisy(self, images: jax.Array, rng: jax.Array | None) -> jax.Array:
    """images [b, h, w, c] with the semantic classifier's input noise (none when 0)."""
    if not self.settings.semantic_noise or rng is None:
      return images
    return images + self.settings.semantic_noise * jax.random.normal(rng, images.shape)

  def semantic_update(self, state: TrainState, a: jax.Array, labels_a: jax.Array,
                      rng: jax.Array | None = None):
    """One cross-entropy update of the semantic classifier on real A images [b, h, w, c] in
    [-1, 1] (with its input noise) and their labels [b]; returns (state, (loss, accuracy))."""
    a = self._noisy(a, rng)

    def loss_fn(params):
      logits = self._logits(params, a)  # [b, classes]
      loss = optax.softmax_cross_entropy_with_integer_labels(logits, labels_a).mean()
      return loss, jnp.mean(jnp.argmax(logits, -1) == labels_a)

    (loss, accuracy), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params["semantic"])
    return self._apply(state, "semantic", grads), (loss, accuracy)

  def semantic_terms(self, params, labels_a: jax.Array, b: jax.Array, fake_a: jax.Array,
                     fake_b: jax.Array, rng: jax.Array | None = None) -> dict[str, jax.Array]:
    """CyCADA's semantic consistency with the classifier `params` held fixed: G(a) [b, h, w, c]
    should read as a's label [b]; F(b) as the class the classifier reads in b itself (each
    translation read through the classifier's input noise, drawn from `rng`)."""
    params = jax.lax.stop_gradient(params)
    read_b = jnp.argmax(self._logits(params, b), -1)  # [b]: a pseudo-label, no gradient
    key_ab, key_ba = jax.random.split(rng) if rng is not None else (None, None)
    ce = optax.softmax_cross_entropy_with_integer_labels
    return {"semantic_ab": ce(self._logits(params, self._noisy(fake_b, key_ab)), labels_a).mean(),
            "semantic_ba": ce(self._logits(params, self._noisy(fake_a, key_ba)), read_b).mean()}

  def generator_update(self, state: TrainState, a: jax.Array, b: jax.Array,
                       labels_a: jax.Array | None = None, rng: jax.Array | None = None):
    """One update of both generators on a, b [b, h, w, c] in [-1, 1] against the current
    discriminators (and, with semantic_weight, the semantic classifier on a's labels [b]);
    returns (state, (loss, named terms, fake A, fake B)).

    Only the generators' params and Adam state change.
    """
    s, d_params = self.settings, state.params["discriminator"]

    def loss_fn(g):
      fake_b, fake_a = self._g(g["ab"], a), self._g(g["ba"], b)  # [b, h, w, c] each
      terms = {
          "g_adv_ab": losses.g_loss(s.loss, self._d(d_params["b"], fake_b)),
          "g_adv_ba": losses.g_loss(s.loss, self._d(d_params["a"], fake_a)),
          "cycle_a": losses.cycle_loss(a, self._g(g["ba"], fake_b)),
          "cycle_b": losses.cycle_loss(b, self._g(g["ab"], fake_a)),
      }
      total = terms["g_adv_ab"] + terms["g_adv_ba"]
      total += s.cycle_weight * (terms["cycle_a"] + terms["cycle_b"])
      if s.identity_weight:  # skip two generator passes when the term is off
        terms["identity_a"] = losses.identity_loss(a, self._g(g["ba"], a))
        terms["identity_b"] = losses.identity_loss(b, self._g(g["ab"], b))
        total += s.identity_weight * (terms["identity_a"] + terms["identity_b"])
      if s.semantic_weight:
        terms |= self.semantic_terms(state.params["semantic"], labels_a, b, fake_a, fake_b, rng)
        total += s.semantic_weight * (terms["semantic_ab"] + terms["semantic_ba"])
      return total, (terms, fake_a, fake_b)

    (loss, (terms, fake_a, fake_b)), grads = jax.value_and_grad(loss_fn, has_aux=True)(
        state.params["generator"])
    state = self._apply(state, "generator", grads)
    return state, (loss, terms, jax.lax.stop_gradient(fake_a), jax.lax.stop_gradient(fake_b))

  def discriminator_update(self, state: TrainState, a: jax.Array, b: jax.Array,
                           fake_a: jax.Array, fake_b: jax.Array):
    """One update of both discriminators, real vs fake per domain, all [b, h, w, c] in
    [-1, 1]; returns (state, (loss, named terms)). Only the discriminators change."""
    kind = self.settings.loss

    def loss_fn(d):
      d_a = losses.d_loss(kind, self._d(d["a"], a), self._d(d["a"], fake_a))
      d_b = losses.d_loss(kind, self._d(d["b"], b), self._d(d["b"], fake_b))
      return d_a + d_b, {"d_a": d_a, "d_b": d_b}

    (loss, terms), grads = jax.value_and_grad(loss_fn, has_aux=True)(
        state.params["discriminator"])
    return self._apply(state, "discriminator", grads), (loss, terms)

  def _apply(self, state: TrainState, player: str, grads) -> TrainState:
    """`state` with one player's params and Adam state updated by `grads`."""
    params, opt_state = update_player(self.optimizer(), grads, state.opt_state[player],
                                      state.params[player])
    return state.replace(params={**state.params, player: params},
                         opt_state={**state.opt_state, player: opt_state})

  def train_step(self, state: TrainState, batch: Batch, rng: jax.Array):
    """Both generators against the current discriminators, then both discriminators on fakes
    drawn through the history pools (the reference implementation's order)."""
    step_rng = jax.random.fold_in(rng, state.step)
    key_a, key_b = jax.random.split(step_rng)
    # Only the semantic noise draws from these (the pools' keys stay as they were without it).
    key_cls, key_gen = jax.random.split(jax.random.fold_in(step_rng, 7))
    if not self.settings.semantic_noise:
      key_cls = key_gen = None
    a = batch["image"] * 2.0 - 1.0  # [b, h, w, c] domain A in [-1, 1]
    b = batch["image_b"] * 2.0 - 1.0  # [b, h, w, c] domain B
    extra = {}
    if self.settings.semantic_weight:  # the classifier first, so G meets this step's reading
      state, (extra["semantic_loss"], extra["semantic_accuracy_a"]) = self.semantic_update(
          state, a, batch["label"], key_cls)
    state, (g_loss, terms, fake_a, fake_b) = self.generator_update(state, a, b,
                                                                  batch.get("label"), key_gen)
    pool_a, fake_a = pool.query(state.extras["pool_a"], fake_a, key_a)
    pool_b, fake_b = pool.query(state.extras["pool_b"], fake_b, key_b)
    state, (d_loss, d_terms) = self.discriminator_update(state, a, b, fake_a, fake_b)
    state = state.replace(step=state.step + 1,
                          extras={**state.extras, "pool_a": pool_a, "pool_b": pool_b})
    metrics = {"loss": g_loss + d_loss, "g_loss": g_loss, "d_loss": d_loss, **terms, **d_terms,
               **extra}
    return state, metrics

  def translate(self, state: TrainState, images: jax.Array, direction: str) -> jax.Array:
    """Maps images [b, h, w, c] in [0, 1] with generator "ab" or "ba"; returns [0, 1]."""
    return _to_unit(self._g(state.params["generator"][direction], images * 2.0 - 1.0))

  def eval_step(self, state: TrainState, batch: Batch, rng: jax.Array) -> Metrics:
    """Cycle reconstruction L1 in [0, 1] pixel units both ways, next to the L1 between random
    pairs of real images (the batch against itself rolled by one) as the scale to beat."""
    del rng
    a, b = batch["image"], batch["image_b"]  # [b, h, w, c] each, in [0, 1]
    rec_a = self.translate(state, self.translate(state, a, "ab"), "ba")
    rec_b = self.translate(state, self.translate(state, b, "ba"), "ab")
    metrics = {"cycle_a": losses.cycle_loss(a, rec_a), "cycle_b": losses.cycle_loss(b, rec_b),
               "pair_l1_a": losses.cycle_loss(a, jnp.roll(a, 1, axis=0)),
               "pair_l1_b": losses.cycle_loss(b, jnp.roll(b, 1, axis=0))}
    metrics["loss"] = metrics["cycle_a"] + metrics["cycle_b"]
    return metrics

