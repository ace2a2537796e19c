"""The two-player GAN step (GAN, DCGAN, conditional GAN, TransGAN) as pure functions.

The networks come in as Flax modules with the call signature `(inputs, labels, train)`; nothing
here depends on their architecture. State layout: params and opt_state are
{"generator": ..., "discriminator": ...}; extras["batch_stats"] holds each player's batch-norm
running averages (empty dicts for networks without batch norm), so resume is exact; ema_params is
{"generator": ...} when the settings keep an EMA of the generator (then used for sampling).

Beyond the DCGAN recipe (one D and one G update per batch, same noise), the settings add
TransGAN's: the WGAN-GP critic loss with the drift term, `n_critic` critic updates per generator
update, an EMA generator and DiffAugment. With `n_critic` > 1 the loop's batch holds n_critic
sub-batches and each critic update reads its own, as the reference (VITA-Group/TransGAN's
functions.py) gives every critic update a fresh data batch: a step then costs n_critic critic
updates and one generator update and still reads every image once per epoch, where reusing one
batch n_critic times would show the critic each image n_critic times in a row. The generator
update draws one sub-batch worth of fresh noise (the last sub-batch's labels when conditional).
"""

import dataclasses

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from jaxgen.gan import diffaugment, losses
from jaxgen.gan.losses import AdversarialLoss
from jaxgen.train.family import Batch, Metrics
from jaxgen.train.state import TrainState, ema_update

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
  # The defaults below are the DCGAN recipe; TransGAN's is n_critic 4, WGAN_GP, an EMA
  # generator and DiffAugment("translation", "cutout").
  n_critic: int = 1  # critic updates per generator update, each on its own sub-batch
  gp_weight: float = 10.0  # WGAN_GP: weight of the gradient penalty
  drift_weight: float = 1e-3  # WGAN_GP: weight of E[D(real)^2]
  ema_decay: float | None = None  # None: sample the live generator; else the EMA's decay
  # The EMA's warm-up: min(decay, (1 + step) / (10 + step)) while that is below `ema_decay`
  # (to step (10 d - 1) / (1 - d): 1,790 for 0.995, 8,990 for 0.999), so early averages do not
  # reach back to the random initialisation. In a run shorter than that, two decays differ
  # only on the steps past it; the metrics log the decay in effect (`ema_decay`).
  ema_warmup: bool = True
  augment: tuple[str, ...] = ()  # DiffAugment policies applied to all D's inputs; () = none

  def __post_init__(self):
    if self.n_critic < 1:
      raise ValueError(f"n_critic must be >= 1, got {self.n_critic}")
    diffaugment.check_policy(self.augment)

  @property
  def randomised(self) -> bool:
    """Whether the step draws more than the DCGAN recipe's one noise batch."""
    return self.loss == AdversarialLoss.WGAN_GP or bool(self.augment) or self.n_critic > 1


def optimizer(settings: GanSettings) -> optax.GradientTransformation:
  """The Adam optimizer each player uses (separately)."""
  return optax.adam(settings.learning_rate, b1=settings.b1, b2=settings.b2)


def _variables(state: TrainState, player: str, params=None) -> dict:
  """The Flax variables of `player`: params (or an override) and its batch stats."""
  params = state.params[player] if params is None else params
  return {"params": params, "batch_stats": state.extras["batch_stats"][player]}


def ema_decay_at(decay: float, step: jax.Array, warmup: bool = True) -> jax.Array:
  """With `warmup`, min(decay, (1 + step) / (10 + step)): the EMA follows closely early on, when
  an average with the random initialisation would only blur the samples
  (tf.train.ExponentialMovingAverage's num_updates); without it, `decay` from the first step."""
  if not warmup:
    return jnp.asarray(decay, jnp.float32)
  step = step.astype(jnp.float32)
  return jnp.minimum(decay, (1.0 + step) / (10.0 + step))


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
    if self.settings.loss == AdversarialLoss.WGAN_GP and d_vars.get("batch_stats"):
      raise ValueError("the gradient penalty needs a critic without batch norm (it scores each "
                       "image on its own)")
    if self.settings.ema_decay is not None and g_vars.get("batch_stats"):
      raise ValueError("an EMA generator needs a generator without batch norm (its running "
                       "statistics would not match the averaged weights)")
    params = {"generator": g_vars["params"], "discriminator": d_vars["params"]}
    tx = optimizer(self.settings)
    ema = None
    if self.settings.ema_decay is not None:
      ema = {"generator": jax.tree.map(jnp.copy, g_vars["params"])}
    return TrainState(
        step=jnp.zeros((), jnp.int32), params=params,
        opt_state={p: tx.init(params[p]) for p in PLAYERS}, ema_params=ema,
        extras={"batch_stats": {"generator": g_vars.get("batch_stats", {}),
                                "discriminator": d_vars.get("batch_stats", {})}})

  def _augment(self, images: jax.Array, rng: jax.Array | None) -> jax.Array:
    """DiffAugment of images [b, h, w, c] (all of D's inputs pass here), or them unchanged."""
    if not self.settings.augment:
      return images
    return diffaugment.diff_augment(rng, images, self.settings.augment)

  def _augment_pair(self, real: jax.Array, fake: jax.Array, rng: jax.Array | None):
    """Augments real and fake [b, h, w, c] in one call on their concatenation: one function with
    i.i.d. per-image parameters, so both sides see the same distribution of transforms."""
    both = self._augment(jnp.concatenate([real, fake]), rng)  # [2b, h, w, c]
    return both[:real.shape[0]], both[real.shape[0]:]

  def _critic(self, d_vars: dict, images: jax.Array, labels: jax.Array | None) -> jax.Array:
    """D's scores [b] of images on their own; only for critics without batch norm (WGAN_GP)."""
    return self.discriminator.apply(d_vars, images, labels, train=True)

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
                           z: jax.Array, rng: jax.Array | None = None):
    """One D update on real [b, h, w, c] vs G(z) fakes; returns (state, (loss, real scores [b],
    fake scores [b], terms)), terms holding WGAN_GP's penalties (else empty).

    `rng` draws DiffAugment's transforms and the penalty's interpolates; the DCGAN recipe needs
    none. Only the discriminator's params, Adam state and batch stats change.
    """
    s = self.settings
    # G runs in training mode as in its own update, but its statistic updates are dropped here.
    fake, _ = self.generator.apply(_variables(state, "generator"), z, labels, train=True,
                                   mutable=["batch_stats"])
    fake = jax.lax.stop_gradient(fake)  # [b, h, w, c]
    aug_key, gp_key = jax.random.split(rng) if s.randomised else (None, None)
    real, fake = self._augment_pair(real, fake, aug_key)

    def loss_fn(d_params):
      d_vars = _variables(state, "discriminator", d_params)
      real_l, fake_l, stats = self._discriminate(d_vars, real, fake, labels, train=True)
      loss, terms = losses.d_loss(s.loss, real_l, fake_l), {}
      if s.loss == AdversarialLoss.WGAN_GP:
        # On the augmented images: the Lipschitz constraint holds where D actually looks.
        critic = lambda x: self._critic(d_vars, x, labels)
        terms = {"gradient_penalty": losses.gradient_penalty(critic, real, fake, gp_key),
                 "drift": losses.drift_penalty(real_l)}
        loss = loss + s.gp_weight * terms["gradient_penalty"] + s.drift_weight * terms["drift"]
      return loss, (real_l, fake_l, stats, terms)

    (loss, (real_l, fake_l, stats, terms)), grads = jax.value_and_grad(loss_fn, has_aux=True)(
        state.params["discriminator"])
    state = _update_player(state, "discriminator", optimizer(s), grads, stats)
    return state, (loss, real_l, fake_l, terms)

  def generator_update(self, state: TrainState, real: jax.Array, labels: jax.Array | None,
                       z: jax.Array, rng: jax.Array | None = None) -> tuple[TrainState, jax.Array]:
    """One G update against the current D; returns (state, G loss).

    `rng` draws DiffAugment's transforms (through which G's gradient flows). Only the
    generator's params, Adam state and batch stats change.
    """
    s = self.settings
    d_vars = _variables(state, "discriminator")

    def loss_fn(g_params):
      fake, updates = self.generator.apply(_variables(state, "generator", g_params), z, labels,
                                           train=True, mutable=["batch_stats"])
      if s.loss == AdversarialLoss.WGAN_GP:
        # A critic scores each image alone: the real half would be wasted work.
        fake_l = self._critic(d_vars, self._augment(fake, rng), labels)
      else:
        # D sees the same real + fake mix as in its own update; its statistic updates are dropped.
        real_a, fake_a = self._augment_pair(real, fake, rng)
        _, fake_l, _ = self._discriminate(d_vars, real_a, fake_a, labels, train=True)
      return losses.g_loss(s.loss, fake_l), updates.get("batch_stats", {})

    (loss, stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params["generator"])
    return _update_player(state, "generator", optimizer(s), grads, stats), loss

  def train_step(self, state: TrainState, batch: Batch, rng: jax.Array):
    """n_critic discriminator updates on fresh fakes, then one generator update against the new
    D, then the generator's EMA."""
    rng = jax.random.fold_in(rng, state.step)
    real = batch["image"] * 2.0 - 1.0  # [b, h, w, c] in [-1, 1]
    labels = self._labels(batch)  # fakes share the batch's labels, so classes are balanced
    if self.settings.randomised:
      state, d_out, g_loss = self._critic_steps_then_generator(state, real, labels, rng)
    else:  # the DCGAN recipe: one D and one G update on the same batch and noise
      z = jax.random.normal(rng, (real.shape[0], self.settings.latent_dim))  # [b, latent]
      state, d_out = self.discriminator_update(state, real, labels, z)
      state, g_loss = self.generator_update(state, real, labels, z)
    metrics = self._metrics(g_loss, *d_out)
    if self.settings.ema_decay is not None:
      decay = ema_decay_at(self.settings.ema_decay, state.step, self.settings.ema_warmup)
      state = state.replace(ema_params={"generator": ema_update(
          state.ema_params["generator"], state.params["generator"], decay)})
      metrics["ema_decay"] = decay  # the decay in effect at this step
    return state.replace(step=state.step + 1), metrics

  def _critic_steps_then_generator(self, state: TrainState, real: jax.Array,
                                   labels: jax.Array | None, rng: jax.Array):
    """n_critic D updates under lax.scan, one per sub-batch of real [n b, h, w, c], then one G
    update; returns (state, D outputs averaged / concatenated over the updates, G loss)."""
    n, latent = self.settings.n_critic, self.settings.latent_dim
    if real.shape[0] % n:
      raise ValueError(f"a batch of {real.shape[0]} does not split into n_critic={n} sub-batches")
    b = real.shape[0] // n
    keys = jax.random.split(rng, n + 1)  # one per critic update, the last for the generator
    reals = real.reshape((n, b) + real.shape[1:])  # [n, b, h, w, c]
    sub_labels = None if labels is None else labels.reshape(n, b)  # [n, b]

    def critic_update(state, inputs):
      real_i, labels_i, key = inputs
      z_key, d_key = jax.random.split(key)
      z = jax.random.normal(z_key, (b, latent))  # [b, latent]
      return self.discriminator_update(state, real_i, labels_i, z, d_key)

    state, (d_loss, real_l, fake_l, terms) = jax.lax.scan(
        critic_update, state, (reals, sub_labels, keys[:n]))  # losses [n], scores [n, b]
    z_key, g_key = jax.random.split(keys[n])
    z = jax.random.normal(z_key, (b, latent))  # [b, latent]
    last_labels = None if labels is None else sub_labels[-1]
    state, g_loss = self.generator_update(state, reals[-1], last_labels, z, g_key)
    terms = {k: jnp.mean(v) for k, v in terms.items()}
    return state, (jnp.mean(d_loss), real_l.reshape(-1), fake_l.reshape(-1), terms), g_loss

  def _metrics(self, g_loss, d_loss, real_l, fake_l, terms=None) -> Metrics:
    """Both losses and D's accuracy (the critic's Wasserstein estimate for WGAN_GP), plus terms."""
    metrics = {"loss": d_loss + g_loss, "d_loss": d_loss, "g_loss": g_loss, **(terms or {})}
    if self.settings.loss == AdversarialLoss.WGAN_GP:
      # E[D(real)] - E[D(fake)]; a critic's scores have no threshold to be "right" about.
      metrics["wasserstein"] = -losses.wasserstein_d_loss(real_l, fake_l)
    else:
      threshold = 0.0 if self.settings.loss == AdversarialLoss.NON_SATURATING else 0.5
      metrics["d_accuracy"] = losses.real_accuracy(real_l, fake_l, threshold)
    return metrics

  def eval_step(self, state: TrainState, batch: Batch, rng: jax.Array) -> Metrics:
    """Both players' losses and D's accuracy on a held-out batch, running averages for BN."""
    real = batch["image"] * 2.0 - 1.0  # [b, h, w, c]
    labels = self._labels(batch)
    z = jax.random.normal(rng, (real.shape[0], self.settings.latent_dim))  # [b, latent]
    fake = self.generator.apply(_variables(state, "generator"), z, labels, train=False)
    real_l, fake_l, _ = self._discriminate(_variables(state, "discriminator"), real, fake,
                                           labels, train=False)
    kind = self.settings.loss
    # Without augmentation or penalties: the un-augmented game (WGAN_GP: its Wasserstein terms).
    return self._metrics(losses.g_loss(kind, fake_l), losses.d_loss(kind, real_l, fake_l),
                         real_l, fake_l)

  def sample(self, state: TrainState, rng: jax.Array, num: int,
             labels: jax.Array | None = None) -> jax.Array:
    """`num` generated images [num, h, w, c] in [0, 1]; labels default to 0, 1, 2, ... cycling.

    From the EMA generator when the state keeps one. Jit it with `num` static (argument 2), as
    the loop does.
    """
    if self.settings.num_classes and labels is None:
      labels = jnp.arange(num) % self.settings.num_classes  # [num]
    z = jax.random.normal(rng, (num, self.settings.latent_dim))  # [num, latent]
    ema = state.ema_params["generator"] if state.ema_params is not None else None
    images = self.generator.apply(_variables(state, "generator", ema), z,
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
