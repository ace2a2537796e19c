"""Where XLA's CPU convolution time goes, and whether im2col + matmul would beat it (issue 12).

For each convolution shape of the default U-Net, DCGAN and conv VAE it times, compiled apart and
side by side in one run: XLA's forward, input gradient and weight gradient, against the same three
computed as one matmul over explicit patches, built two ways (`lax.conv_general_dilated_patches`,
and padding + strided slices + concatenation). Each replacement is checked against XLA's result
before it is timed. The last line is the float32 matmul rate of the same process, for utilisation.

  nice -n 15 python -m experiments.bench.conv_grad

Prints one line per shape (ms and GFLOP/s per variant). Results: experiments/bench/results/conv_grad.txt.
"""

import argparse
import statistics

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from experiments.bench.unet_step import matmul_gflops, timed

DIMENSIONS = ("NHWC", "HWIO", "NHWC")
# (batch, side, in channels, out channels, kernel, stride): U-Net small levels, a U-Net up-path
# concatenation, DCGAN's strided discriminator layer, the conv VAE's 4x4/2 encoder layer, conv_in.
SHAPES = [(32, 32, 64, 64, 3, 1), (32, 16, 128, 128, 3, 1), (32, 8, 128, 128, 3, 1),
          (32, 32, 192, 64, 3, 1), (64, 16, 128, 64, 4, 2), (128, 14, 32, 64, 4, 2), (64, 32, 3, 64, 3, 1)]


def median_seconds(fn, *args, reps: int = 10) -> float:
  """Median wall time of fn(*args) after two warm-up calls (so compilation is excluded)."""
  return statistics.median(t for t, _ in timed(lambda: fn(*args), reps, warmup=2))


def slice_patches(x: jax.Array, k: int, stride: int, pad) -> jax.Array:
  """[b, h, w, c] -> [b, ho, wo, k*k*c] in (kh, kw, c) order, i.e. HWIO's reshape order."""
  xp = jnp.pad(x, ((0, 0), pad[0], pad[1], (0, 0)))
  b, hp, wp, c = xp.shape
  ho, wo = (hp - k) // stride + 1, (wp - k) // stride + 1
  cols = [lax.slice(xp, (0, i, j, 0), (b, i + (ho - 1) * stride + 1, j + (wo - 1) * stride + 1, c),
                    (1, stride, stride, 1)) for i in range(k) for j in range(k)]
  return jnp.concatenate(cols, axis=-1)


def xla_patches(x: jax.Array, k: int, stride: int, pad) -> jax.Array:
  """[b, h, w, c] -> [b, ho, wo, c*k*k] in (c, kh, kw) order, through XLA's patch extraction."""
  return lax.conv_general_dilated_patches(x, (k, k), (stride, stride), pad, dimension_numbers=DIMENSIONS)


def main():
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--reps", type=int, default=10)
  a = p.parse_args()
  print(f"jax {jax.__version__} {jax.devices()}", flush=True)
  for b, side, c, o, k, s in SHAPES:
    kx, kw = jax.random.split(jax.random.PRNGKey(0))
    x = jax.random.normal(kx, (b, side, side, c))  # [b, h, w, c]
    w = jax.random.normal(kw, (k, k, c, o)) * 0.05  # [k, k, c, o]
    pad = [(1, 1), (1, 1)]

    def conv(x, w):
      return lax.conv_general_dilated(x, w, (s, s), pad, dimension_numbers=DIMENSIONS)

    y = conv(x, w)
    g = jax.random.normal(kx, y.shape)  # cotangent [b, ho, wo, o]
    variants = {
        "fwd": jax.jit(conv),
        "fwd_slice_mm": jax.jit(lambda x, w: slice_patches(x, k, s, pad) @ w.reshape(k * k * c, o)),
        "fwd_xpatch_mm": jax.jit(lambda x, w: xla_patches(x, k, s, pad)
                                 @ w.transpose(2, 0, 1, 3).reshape(c * k * k, o)),
        "dx": jax.jit(lambda x, w, g: jax.vjp(lambda x: conv(x, w), x)[1](g)[0]),
        "dw": jax.jit(lambda x, w, g: jax.vjp(lambda w: conv(x, w), w)[1](g)[0]),
        "dw_slice_mm": jax.jit(lambda x, w, g: jnp.einsum("bhwp,bhwo->po", slice_patches(x, k, s, pad), g)
                               .reshape(k, k, c, o)),
        "dw_xpatch_mm": jax.jit(lambda x, w, g: jnp.einsum("bhwp,bhwo->po", xla_patches(x, k, s, pad), g)
                                .reshape(c, k, k, o).transpose(1, 2, 0, 3)),
    }
    args = {n: ((x, w) if n.startswith("fwd") else (x, w, g)) for n in variants}
    for name in ("fwd_slice_mm", "fwd_xpatch_mm"):
      np.testing.assert_allclose(variants[name](x, w), variants["fwd"](x, w), rtol=2e-3, atol=2e-3)
    for name in ("dw_slice_mm", "dw_xpatch_mm"):
      np.testing.assert_allclose(variants[name](x, w, g), variants["dw"](x, w, g), rtol=2e-3, atol=5e-2)
    gflop = 2 * b * y.shape[1] * y.shape[2] * o * c * k * k / 1e9
    cells = []
    for name, fn in variants.items():
      sec = median_seconds(fn, *args[name], reps=a.reps)
      cells.append(f"{name} {sec * 1e3:.1f}ms {gflop / sec:.0f}GF")
    print(f"b{b} {side}x{side} {c}->{o} k{k} s{s}: " + "  ".join(cells), flush=True)
  print(f"matmul 2048^2 float32: {matmul_gflops():.0f} GFLOP/s")


if __name__ == "__main__":
  main()
