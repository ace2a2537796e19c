"""Masked brain modelling (config family "mbm", MinD-Vis stage A): a masked autoencoder
pretrained on unpaired signals.

Config fields: model (patch, dim, depth, num_heads, decoder_dim, decoder_depth,
decoder_heads), mask_ratio, learning_rate, warmup_steps, grad_clip, weight_decay.
Batches hold "signal" [b, v]. Evaluation reports the masked-patch MSE and the correlation
between predicted and true values on the hidden patches of held-out signals, per signal (so
with its standard error), under a fixed mask draw.
"""

import jax
import jax.numpy as jnp
import ml_collections
import optax

from jaxgen.brain import masking
from jaxgen.errors import UserError
from jaxgen.nets.signal_mae import SignalMAE
from jaxgen.train import state as train_state
from jaxgen.train.family import DataSpec, Family


def build_mae(config: ml_collections.ConfigDict, signal_length: int) -> SignalMAE:
  """The masked autoencoder config.model describes, for signals of `signal_length` voxels."""
  m = config.model
  if signal_length % m.patch:
    raise UserError(f"signals of {signal_length} voxels do not divide into patches of "
                    f"{m.patch}; pad them (jaxgen.data.brain.pad_to_patch) or change "
                    "--config.model.patch")
  return SignalMAE(signal_length // m.patch, m.patch, m.dim, m.depth, m.num_heads,
                   m.decoder_dim, m.decoder_depth, m.decoder_heads)


def make_family(config: ml_collections.ConfigDict, data_spec: DataSpec) -> Family:
  """The masked autoencoder over data_spec.signal_length-voxel signals."""
  if not data_spec.signal_length:
    raise UserError(f"dataset {config.dataset!r} has no 'signal' feature; masked brain "
                    "modelling trains on signals (e.g. brain_rest/sbj_1)")
  if not 0.0 < config.mask_ratio < 1.0:
    raise UserError(f"config.mask_ratio must lie in (0, 1), got {config.mask_ratio}")
  net = build_mae(config, data_spec.signal_length)
  patch, n = config.model.patch, data_spec.signal_length // config.model.patch
  warmup = max(config.get("warmup_steps", 0), 1)
  lr = optax.warmup_cosine_decay_schedule(0.0, config.learning_rate, warmup,
                                          max(config.num_train_steps, warmup + 1))
  tx = optax.chain(optax.clip_by_global_norm(config.get("grad_clip", 1.0)),
                   optax.adamw(lr, b2=0.95, weight_decay=config.get("weight_decay", 0.05)))

  def forward(params, signals, rng):
    keep, hidden = masking.random_keep(rng, signals.shape[0], n, config.mask_ratio)
    pred = net.apply({"params": params}, signals, keep)  # [b, n, patch]
    return pred, masking.patchify(signals, patch), hidden

  def create_state(rng, example_batch):
    signals = example_batch["signal"][:1]
    keep, _ = masking.random_keep(rng, 1, n, config.mask_ratio)
    return train_state.create(net.init(rng, signals, keep)["params"], tx)

  def train_step(state, batch, rng):
    def loss_fn(params):
      pred, target, hidden = forward(params, batch["signal"], rng)
      return jnp.mean(masking.masked_mse(pred, target, hidden))

    loss, grads = jax.value_and_grad(loss_fn)(state.params)
    state = train_state.apply_gradients(state, grads, tx)
    return state, {"loss": loss, "grad_norm": optax.tree.norm(grads)}

  def eval_step(state, batch, rng):
    del rng  # one fixed mask draw, so evaluations are comparable across steps
    pred, target, hidden = forward(state.params, batch["signal"], jax.random.key(0))
    return {"masked_mse": masking.masked_mse(pred, target, hidden),  # [b]
            "masked_corr": masking.masked_correlation(pred, target, hidden)}

  return Family(create_state=create_state, train_step=train_step, eval_step=eval_step)
