"""The two-player GAN step (GAN, DCGAN, conditional GAN) as pure functions.

The networks come in as Flax modules with the call signature `(inputs, labels, train)`; nothing
here depends on their architecture. State layout: params and opt_state are
{"generator": ..., "discriminator": ...}; extras["batch_stats"] holds each player's batch-norm
running averages (empty dicts for networks without batch norm), so resume is exact.
"""

import dataclasses

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from jaxgen.gan import losses
from jaxgen.gan.losses import AdversarialLoss
from jaxgen.train.family import Batch, Metrics
from jaxgen.train.state import TrainState

PLAYERS = ("generator", "discriminator")


@dataclasses.dataclass(frozen=True)
class GanSettings:
  """What the GAN step needs beyond the networks."""

  latent_dim: int
  num_classes: int  # 0: unconditional; otherwise both players see the label
  loss: AdversarialLoss
  learning_rate: float
  b1: float = 0.5  # DCGAN's Adam beta1: 0.9 makes the game oscillate
  b2: float = 0.999


def optimizer(settings: GanSettings) -> optax.GradientTransformation:
  """The Adam optimizer each player uses (separately)."""
  return optax.adam(settings.learning_rate, b1=settings.b1, b2=settings.b2)


def _variables(state: TrainState, player: str, params=None) -> dict:
  """The Flax variables of `player`: params (or an override) and its batch stats."""
  params = state.params[player] if params is None else params
  return {"params": params, "batch_stats": state.extras["batch_stats"][player]}


@dataclasses.dataclass(frozen=True)
class GanSteps:
  """Pure create/train/eval/sample functions for one generator/discriminator pair."""

  generator: nn.Module
  discriminator: nn.Module
  settings: GanSettings

  def _labels(self, batch: Batch) -> jax.Array | None:
    return batch["label"] if self.settings.num_classes else None

  def create_state(self, rng: jax.Array, example_batch: Batch) -> TrainState:
    """Initialises both players, their Adam states and batch-norm statistics."""
    g_key, d_key = jax.random.split(rng)
    images = example_batch["image"][:1]  # [1, h, w, c]; one example is enough for shapes
    labels = jnp.zeros((1,), jnp.int32) if self.settings.num_classes else None
    z = jnp.zeros((1, self.settings.latent_dim))  # [1, latent]
    g_vars = self.generator.init(g_key, z, labels, train=False)
    d_vars = self.discriminator.init(d_key, images, labels, train=False)
    params = {"generator": g_vars["params"], "discriminator": d_vars["params"]}
    tx = optimizer(self.settings)
    return TrainState(
        step=jnp.zeros((), jnp.int32), params=params,
        opt_state={p: tx.init(params[p]) for p in PLAYERS},
        extras={"batch_stats": {"generator": g_vars.get("batch_stats", {}),
                                "discriminator": d_vars.get("batch_stats", {})}})

  def _discriminate(self, d_vars: dict, real: jax.Array, fake: jax.Array,
                    labels: jax.Array | None, train: bool):
    """D on real and fake together: batch norm then normalises both with the same statistics,
    so D cannot tell them apart by batch statistics alone. Returns real, fake logits, stats."""
    both = jnp.concatenate([real, fake])  # [2b, h, w, c]
    both_labels = None if labels is None else jnp.concatenate([labels, labels])  # [2b]
    if train:
      logits, updates = self.discriminator.apply(d_vars, both, both_labels, train=True,
                                                 mutable=["batch_stats"])
      stats = updates.get("batch_stats", {})
    else:
      logits, stats = self.discriminator.apply(d_vars, both, both_labels, train=False), None
    b = real.shape[0]
    return logits[:b], logits[b:], stats  # [b], [b]

  def discriminator_update(self, state: TrainState, real: jax.Array, labels: jax.Array | None,
                           z: jax.Array):
    """One D update on real [b, h, w, c] vs G(z) fakes; returns (state, (loss, logits, logits)).

    Only the discriminator's params, Adam state and batch stats change.
    """
    # G runs in training mode as in its own update, but its statistic updates are dropped here.
    fake, _ = self.generator.apply(_variables(state, "generator"), z, labels, train=True,
                                   mutable=["batch_stats"])
    fake = jax.lax.stop_gradient(fake)  # [b, h, w, c]

    def loss_fn(d_params):
      real_l, fake_l, stats = self._discriminate(
          _variables(state, "discriminator", d_params), real, fake, labels, train=True)
      return losses.d_loss(self.settings.loss, real_l, fake_l), (real_l, fake_l, stats)

    (loss, (real_l, fake_l, stats)), grads = jax.value_and_grad(loss_fn, has_aux=True)(
        state.params["discriminator"])
    state = _update_player(state, "discriminator", optimizer(self.settings), grads, stats)
    return state, (loss, real_l, fake_l)

  def generator_update(self, state: TrainState, real: jax.Array, labels: jax.Array | None,
                       z: jax.Array) -> tuple[TrainState, jax.Array]:
    """One G update against the current D; returns (state, G loss).

    Only the generator's params, Adam state and batch stats change.
    """
    d_vars = _variables(state, "discriminator")

    def loss_fn(g_params):
      fake, updates = self.generator.apply(_variables(state, "generator", g_params), z, labels,
                                           train=True, mutable=["batch_stats"])
      # D sees the same real + fake mix as in its own update; its statistic updates are dropped.
      _, fake_l, _ = self._discriminate(d_vars, real, fake, labels, train=True)
      return losses.g_loss(self.settings.loss, fake_l), updates.get("batch_stats", {})

    (loss, stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params["generator"])
    return _update_player(state, "generator", optimizer(self.settings), grads, stats), loss

  def train_step(self, state: TrainState, batch: Batch, rng: jax.Array):
    """One discriminator update on fresh fakes, then one generator update against the new D."""
    rng = jax.random.fold_in(rng, state.step)
    real = batch["image"] * 2.0 - 1.0  # [b, h, w, c] in [-1, 1]
    labels = self._labels(batch)  # fakes share the batch's labels, so classes are balanced
    z = jax.random.normal(rng, (real.shape[0], self.settings.latent_dim))  # [b, latent]
    state, (d_loss, real_l, fake_l) = self.discriminator_update(state, real, labels, z)
    state, g_loss = self.generator_update(state, real, labels, z)
    return state.replace(step=state.step + 1), self._metrics(d_loss, g_loss, real_l, fake_l)

  def _metrics(self, d_loss, g_loss, real_l, fake_l) -> Metrics:
    threshold = 0.0 if self.settings.loss == AdversarialLoss.NON_SATURATING else 0.5
    return {"loss": d_loss + g_loss, "d_loss": d_loss, "g_loss": g_loss,
            "d_accuracy": losses.real_accuracy(real_l, fake_l, threshold)}

  def eval_step(self, state: TrainState, batch: Batch, rng: jax.Array) -> Metrics:
    """Both players' losses and D's accuracy on a held-out batch, running averages for BN."""
    real = batch["image"] * 2.0 - 1.0  # [b, h, w, c]
    labels = self._labels(batch)
    z = jax.random.normal(rng, (real.shape[0], self.settings.latent_dim))  # [b, latent]
    fake = self.generator.apply(_variables(state, "generator"), z, labels, train=False)
    real_l, fake_l, _ = self._discriminate(_variables(state, "discriminator"), real, fake,
                                           labels, train=False)
    kind = self.settings.loss
    return self._metrics(losses.d_loss(kind, real_l, fake_l), losses.g_loss(kind, fake_l),
                         real_l, fake_l)

  def sample(self, state: TrainState, rng: jax.Array, num: int,
             labels: jax.Array | None = None) -> jax.Array:
    """`num` generated images [num, h, w, c] in [0, 1]; labels default to 0, 1, 2, ... cycling.

    Jit it with `num` static (argument 2), as the loop does.
    """
    if self.settings.num_classes and labels is None:
      labels = jnp.arange(num) % self.settings.num_classes  # [num]
    z = jax.random.normal(rng, (num, self.settings.latent_dim))  # [num, latent]
    images = self.generator.apply(_variables(state, "generator"), z,
                                  labels if self.settings.num_classes else None, train=False)
    return jnp.clip((images + 1.0) / 2.0, 0.0, 1.0)


def update_player(tx: optax.GradientTransformation, grads, opt_state, params):
  """One optax update of one player; returns (new params, new opt state)."""
  updates, opt_state = tx.update(grads, opt_state, params)
  return optax.apply_updates(params, updates), opt_state


def _update_player(state: TrainState, player: str, tx: optax.GradientTransformation, grads,
                   batch_stats) -> TrainState:
  """`state` with one player's params, Adam state and batch stats updated, the other's kept."""
  params, opt_state = update_player(tx, grads, state.opt_state[player], state.params[player])
  return state.replace(
      params={**state.params, player: params},
      opt_state={**state.opt_state, player: opt_state},
      extras={**state.extras,
              "batch_stats": {**state.extras["batch_stats"], player: batch_stats}})
