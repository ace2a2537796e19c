"""The gradient penalty's cost through TransGAN's convolutional critic, by how it downsamples
(issue 36): `ConvCritic` (space-to-depth then a 2x2 convolution made of shifted copies and a
matmul) against the usual stride-2 4x4 convolutions, timed alternately in one run, compilation
apart.

WGAN-GP differentiates the critic's input gradient again; the input gradient of a strided
convolution is a dilated convolution, which XLA's CPU backend runs on a slow path (and in the
full train step, the weight gradients of that gradient too: `experiments.bench.profile_steps
--configs transgan_conv`).

  python -m experiments.bench.critic_penalty [--batch=32] [--reps=7]

Prints seconds per penalty gradient for each critic and their ratio.
"""

import argparse

import flax.linen as nn
import jax
import jax.numpy as jnp

from experiments.bench.alternate import time_alternately
from jaxgen.nets.transgan import ConvCritic


class StridedCritic(nn.Module):
  """The same critic with stride-2 4x4 convolutions (what ConvCritic replaced)."""

  features: int = 64
  num_layers: int = 3

  @nn.compact
  def __call__(self, images: jax.Array) -> jax.Array:
    """images [b, h, w, c] -> scores [b]."""
    x = images
    for i in range(self.num_layers):
      x = nn.leaky_relu(nn.Conv(self.features * 2**i, (4, 4), strides=(2, 2))(x), 0.2)
    return nn.Dense(1)(x.reshape(x.shape[0], -1))[:, 0]


def penalty_gradient(critic: nn.Module, images: jax.Array):
  """A jitted function of the call index: the parameters' gradient of WGAN-GP's penalty at
  `images` (the input gradient differentiated again)."""
  params = critic.init(jax.random.key(0), images)

  def penalty(p, x):
    g = jax.grad(lambda x: critic.apply(p, x).sum())(x)  # [b, h, w, c]
    return jnp.mean((jnp.sqrt(jnp.sum(g ** 2, axis=(1, 2, 3)) + 1e-12) - 1.0) ** 2)

  step = jax.jit(jax.grad(penalty))
  return lambda i: step(params, images + 1e-3 * i)


def main() -> None:
  """Times both critics' penalty gradients alternately and prints them with their ratio."""
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--batch", type=int, default=32)
  parser.add_argument("--reps", type=int, default=7)
  args = parser.parse_args()
  from experiments import backend
  backend.prepare()  # this machine's XLA flags, as training runs them, before the backend starts
  images = jax.random.uniform(jax.random.key(1), (args.batch, 28, 28, 1), minval=-1.0)
  seconds = time_alternately({"conv_critic": penalty_gradient(ConvCritic(), images),
                              "strided": penalty_gradient(StridedCritic(), images)}, args.reps)
  for name, s in seconds.items():
    print(f"{name}: {s:.4f} s per penalty gradient (batch {args.batch}, median of {args.reps})")
  print(f"strided / conv_critic: {seconds['strided'] / seconds['conv_critic']:.1f}x")


if __name__ == "__main__":
  main()
