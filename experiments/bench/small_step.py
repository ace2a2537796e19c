"""DCGAN and conv-VAE train-step throughput, the same networks as the PyTorch peer benchmark.

Mirrors ../shared/bench/torch_small_bench.py layer for layer, built from jaxgen's blocks:
  dcgan: G z[100] -> 4x4x256 -> 8x8x128 -> 16x16x64 -> 32x32x3 (batch norm, ReLU, tanh), D 32x32x3
         -> 16x16x64 -> 8x8x128 -> 4x4x256 -> 1 (LeakyReLU 0.2, batch norm but on the first), no
         biases; one step = D update on real + fake, then G update (non-saturating BCE),
         Adam(2e-4, 0.5, 0.999); images/s counts the real batch.
  vae:   28x28x1 -> conv 4x4/2 32 -> conv 4x4/2 64 -> 256 -> 2x16; decoder 16 -> 256 -> 7x7x64 ->
         14x14x32 -> 28x28x1 logits; Bernoulli likelihood + KL, Adam(1e-3).
Transposed 4x4/2 convolutions are jaxgen's `UpsampleConv` (the sub-pixel form with the same
FLOPs and receptive field, nets/layers.py); torch's 4x4 transposed convolution from 1x1 to 4x4
is the equivalent dense layer. The whole step is one jitted function with donated state.

  python -m experiments.bench.small_step --model dcgan --batch 64 --steps 30

Prints one JSON line per model (progress on stderr).
"""

import argparse
import json
import os
import sys

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from experiments.bench.unet_step import matmul_gflops, summarise, timed, xla_flops
from jaxgen import xla_tuning
from jaxgen.nets.layers import UpsampleConv


def log(*args):
  print(*args, file=sys.stderr, flush=True)


class Generator(nn.Module):
  """The peer's DCGAN generator: z [b, 100] -> images [b, 32, 32, 3]."""

  ngf: int = 64

  @nn.compact
  def __call__(self, z):
    bn = lambda x: nn.BatchNorm(use_running_average=False, momentum=0.9)(x)
    x = nn.Dense(4 * 4 * 4 * self.ngf, use_bias=False)(z).reshape(-1, 4, 4, 4 * self.ngf)
    x = nn.relu(bn(x))  # [b, 4, 4, 256]
    x = nn.relu(bn(UpsampleConv(2 * self.ngf, use_bias=False)(x)))  # [b, 8, 8, 128]
    x = nn.relu(bn(UpsampleConv(self.ngf, use_bias=False)(x)))  # [b, 16, 16, 64]
    return jnp.tanh(UpsampleConv(3, use_bias=False)(x))  # [b, 32, 32, 3]


class Discriminator(nn.Module):
  """The peer's DCGAN discriminator: images [b, 32, 32, 3] -> logits [b]."""

  ndf: int = 64

  @nn.compact
  def __call__(self, x):
    bn = lambda x: nn.BatchNorm(use_running_average=False, momentum=0.9)(x)
    lrelu = lambda x: nn.leaky_relu(x, 0.2)
    conv = lambda f, x: nn.Conv(f, (4, 4), strides=(2, 2), padding=((1, 1), (1, 1)), use_bias=False)(x)
    x = lrelu(conv(self.ndf, x))  # [b, 16, 16, 64]
    x = lrelu(bn(conv(2 * self.ndf, x)))  # [b, 8, 8, 128]
    x = lrelu(bn(conv(4 * self.ndf, x)))  # [b, 4, 4, 256]
    return nn.Conv(1, (4, 4), padding="VALID", use_bias=False)(x).reshape(-1)  # [b]


class VAE(nn.Module):
  """The peer's conv VAE: x [b, 28, 28, 1] -> (logits [b, 28, 28, 1], mu, logvar [b, 16])."""

  latent: int = 16
  hidden: int = 256

  @nn.compact
  def __call__(self, x, rng):
    h = nn.relu(nn.Conv(32, (4, 4), strides=(2, 2), padding=((1, 1), (1, 1)))(x))  # [b, 14, 14, 32]
    h = nn.relu(nn.Conv(64, (4, 4), strides=(2, 2), padding=((1, 1), (1, 1)))(h))  # [b, 7, 7, 64]
    h = nn.relu(nn.Dense(self.hidden)(h.reshape(h.shape[0], -1)))
    mu, logvar = jnp.split(nn.Dense(2 * self.latent)(h), 2, axis=-1)
    z = mu + jax.random.normal(rng, mu.shape) * jnp.exp(0.5 * logvar)
    h = nn.relu(nn.Dense(self.hidden)(z))
    h = nn.relu(nn.Dense(7 * 7 * 64)(h)).reshape(-1, 7, 7, 64)
    h = nn.relu(UpsampleConv(32)(h))  # [b, 14, 14, 32]
    return UpsampleConv(1)(h), mu, logvar  # [b, 28, 28, 1]


def dcgan_step(batch: int):
  """(step, state, args): one jitted D-then-G update of the peer's DCGAN."""
  g, d = Generator(), Discriminator()
  kg, kd, kz = jax.random.split(jax.random.PRNGKey(0), 3)
  gv = g.init(kg, jnp.zeros((2, 100)))
  dv = d.init(kd, jnp.zeros((2, 32, 32, 3)))
  tx = optax.adam(2e-4, b1=0.5, b2=0.999)
  state = dict(g=gv["params"], gs=gv["batch_stats"], d=dv["params"], ds=dv["batch_stats"],
               og=tx.init(gv["params"]), od=tx.init(dv["params"]))
  real = jax.random.uniform(kz, (batch, 32, 32, 3), minval=-1, maxval=1)
  bce = lambda logits, target: optax.sigmoid_binary_cross_entropy(logits, jnp.full_like(logits, target)).mean()

  def step(state, real, rng):
    z = jax.random.normal(rng, (batch, 100))
    fake, gs = g.apply({"params": state["g"], "batch_stats": state["gs"]}, z, mutable=["batch_stats"])

    def d_loss(dp):
      out_r, s = d.apply({"params": dp, "batch_stats": state["ds"]}, real, mutable=["batch_stats"])
      out_f, s = d.apply({"params": dp, "batch_stats": s["batch_stats"]}, jax.lax.stop_gradient(fake),
                         mutable=["batch_stats"])
      return bce(out_r, 1.0) + bce(out_f, 0.0), s["batch_stats"]

    (_, ds), gd = jax.value_and_grad(d_loss, has_aux=True)(state["d"])
    upd, od = tx.update(gd, state["od"], state["d"])
    dp = optax.apply_updates(state["d"], upd)

    def g_loss(gp):
      f, _ = g.apply({"params": gp, "batch_stats": state["gs"]}, z, mutable=["batch_stats"])
      out, _ = d.apply({"params": dp, "batch_stats": ds}, f, mutable=["batch_stats"])
      return bce(out, 1.0)

    gg = jax.grad(g_loss)(state["g"])
    upd, og = tx.update(gg, state["og"], state["g"])
    return dict(g=optax.apply_updates(state["g"], upd), gs=gs["batch_stats"], d=dp, ds=ds, og=og, od=od)

  return step, state, real


def vae_step(batch: int):
  """(step, state, args): one jitted update of the peer's conv VAE."""
  m = VAE()
  k0, kx = jax.random.split(jax.random.PRNGKey(0))
  params = m.init(k0, jnp.zeros((2, 28, 28, 1)), k0)["params"]
  tx = optax.adam(1e-3)
  state = dict(p=params, o=tx.init(params))
  x = (jax.random.uniform(kx, (batch, 28, 28, 1)) > 0.5).astype(jnp.float32)

  def step(state, x, rng):
    def loss(p):
      logits, mu, logvar = m.apply({"params": p}, x, rng)
      rec = optax.sigmoid_binary_cross_entropy(logits, x).sum()
      kl = -0.5 * jnp.sum(1 + logvar - mu**2 - jnp.exp(logvar))
      return (rec + kl) / x.shape[0]

    grads = jax.grad(loss)(state["p"])
    upd, o = tx.update(grads, state["o"], state["p"])
    return dict(p=optax.apply_updates(state["p"], upd), o=o)

  return step, state, x


MODELS = {"dcgan": (dcgan_step, 64), "vae": (vae_step, 128)}


def bench(model: str, batch: int, steps: int, peak: float) -> dict:
  """Compiles one model's step apart, then times `steps` calls; returns the summary."""
  make, default_batch = MODELS[model]
  batch = batch or default_batch
  step, state, data = make(batch)
  jitted = jax.jit(step, donate_argnums=(0,))
  key = jax.random.PRNGKey(1)
  compiled = jitted.lower(state, data, key).compile()
  flops = xla_flops(compiled)
  holder = [state]
  counter = iter(range(10**9))

  def call():
    holder[0] = compiled(holder[0], data, jax.random.fold_in(key, next(counter)))
    return holder[0]

  res = {"bench": f"jaxgen_{model}", "batch": batch, "gflop_per_image": round(flops / batch / 1e9, 4)}
  res["train"] = summarise(timed(call, steps, warmup=3), batch, flops, peak, "images")
  return res


def main():
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--model", choices=[*MODELS, "all"], default="all")
  p.add_argument("--batch", type=int, default=0, help="0 = the peer's default (dcgan 64, vae 128)")
  p.add_argument("--steps", type=int, default=30)
  a = p.parse_args()
  xla_tuning.apply(measure_if_unknown=True)  # this machine's measured flags, before the backend starts
  peak = matmul_gflops()
  for model in (MODELS if a.model == "all" else [a.model]):
    log(f"[{model}] compiling and timing ...")
    res = bench(model, a.batch, a.steps, peak)
    res.update(matmul_gflops=round(peak, 1), XLA_FLAGS=os.environ.get("XLA_FLAGS"), jax=jax.__version__)
    print(json.dumps(res), flush=True)


if __name__ == "__main__":
  main()
