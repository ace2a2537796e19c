"""Transformer-block throughput: jaxgen's TransformerBlock against flax.linen's attention (issue 14).

Both sides are the same pre-LN block, x + MHA(LN x), then + MLP(LN x) with a GELU MLP of
mlp_ratio * dim, no dropout, float32:
  jaxgen: jaxgen.nets.attention.TransformerBlock (fused qkv projection, attention through
          jaxgen.nets.layers.dot_product_attention);
  flax:   flax.linen.MultiHeadDotProductAttention (separate q, k, v projections, flax's
          dot_product_attention) in the same block.
The PyTorch peer, nn.TransformerEncoderLayer(norm_first=True, activation="gelu"), is
experiments/bench/peers/torch_attention_bench.py with the same sizes and output.

Sizes (name: tokens x dim, heads, MLP ratio, batch):
  vit:        50 x 64, 4 heads, 2, batch 128: experiments/configs/vit.py (28x28 digits, patch 4:
              49 patches and a class token; the config's MLP ratio 2, dim 64, 4 heads, and
              the config's batch of 128);
  transgan14: 196 x 64, 4 heads, 4, batch 64: a 14x14 TransGAN stage;
  transgan28: 784 x 32, 4 heads, 4, batch 32: the 28x28 stage with full attention (the
              heaviest attention we run: [32, 4, 784, 784] logits);
  tiny:       16 x 16, 2 heads, 2, batch 4 (tests).
"forward" is one jitted call of the block; "train" one jitted gradient of mean(block(x)^2)
with respect to the parameters (forward + backward). Compilation and two warm-up calls are
excluded; figures are medians over the timed calls, images (sequences) per second.

  nice -n 5 python -m experiments.bench.attention_step [--sizes vit,transgan14] [--calls 20]

Prints one JSON line per (size, implementation) (progress on stderr).
"""

import argparse
import json
import os
import sys

import flax.linen as nn
import jax
import jax.numpy as jnp

from experiments.bench.unet_step import summarise, timed, xla_flops
from jaxgen import xla_tuning
from jaxgen.nets.attention import TransformerBlock

# name: (tokens, dim, heads, mlp_ratio, batch); shared with the PyTorch peer (keep in step).
SIZES = {
    "vit": (50, 64, 4, 2.0, 128),
    "transgan14": (196, 64, 4, 4.0, 64),
    "transgan28": (784, 32, 4, 4.0, 32),
    "tiny": (16, 16, 2, 2.0, 4),
}
DEFAULT_SIZES = "vit,transgan14,transgan28"


def log(*args):
  print(*args, file=sys.stderr, flush=True)


class FlaxMHABlock(nn.Module):
  """The same pre-LN block around flax.linen.MultiHeadDotProductAttention."""

  num_heads: int
  mlp_ratio: float

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    """[b, n, d] -> [b, n, d]."""
    d = x.shape[-1]
    x = x + nn.MultiHeadDotProductAttention(num_heads=self.num_heads)(nn.LayerNorm()(x))
    h = nn.gelu(nn.Dense(int(self.mlp_ratio * d))(nn.LayerNorm()(x)))  # [b, n, mlp]
    return x + nn.Dense(d)(h)


def make_block(impl: str, heads: int, mlp_ratio: float) -> nn.Module:
  if impl == "jaxgen":
    return TransformerBlock(num_heads=heads, mlp_ratio=mlp_ratio)
  if impl == "flax":
    return FlaxMHABlock(num_heads=heads, mlp_ratio=mlp_ratio)
  raise ValueError(f"unknown implementation {impl!r}")


def bench(impl: str, size: str, calls: int, warmup: int = 2) -> dict:
  """Times one block's forward and train calls at one size; returns the JSON record."""
  tokens, dim, heads, mlp_ratio, batch = SIZES[size]
  block = make_block(impl, heads, mlp_ratio)
  x = jax.random.normal(jax.random.PRNGKey(0), (batch, tokens, dim))
  params = jax.jit(block.init)(jax.random.PRNGKey(1), x)
  forward = jax.jit(block.apply)
  # The gradient of a scalar of the output: the backward pass of every layer, parameters only
  # (the peer's loss.backward() with an input that does not require a gradient).
  train = jax.jit(jax.grad(lambda p, x: jnp.mean(jnp.square(block.apply(p, x)))))
  res = {"bench": "jaxgen_attention", "impl": impl, "size": size, "tokens": tokens, "dim": dim,
         "heads": heads, "mlp_ratio": mlp_ratio, "batch": batch,
         "params": sum(a.size for a in jax.tree.leaves(params))}
  for mode, fn in (("forward", forward), ("train", train)):
    compiled = fn.lower(params, x).compile()
    flops = xla_flops(compiled)
    res[f"gflop_{mode}_per_image"] = round(flops / batch / 1e9, 5)
    res[mode] = summarise(timed(lambda: compiled(params, x), calls, warmup), batch, flops, None,
                          "images")
  return res


def main():
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--sizes", default=DEFAULT_SIZES, help=f"comma-separated, of {', '.join(SIZES)}")
  p.add_argument("--impls", default="jaxgen,flax")
  p.add_argument("--calls", type=int, default=20, help="timed calls per size, mode and implementation")
  p.add_argument("--warmup", type=int, default=2)
  a = p.parse_args()
  sizes, impls = a.sizes.split(","), a.impls.split(",")
  if unknown := [s for s in sizes if s not in SIZES]:
    sys.exit(f"error: unknown size(s) {', '.join(unknown)}; pick from {', '.join(SIZES)}")
  xla_tuning.apply(measure_if_unknown=True)  # this machine's measured flags, before the backend starts
  for size in sizes:
    for impl in impls:
      log(f"[{impl} {size}] compiling and timing ...")
      res = bench(impl, size, a.calls, a.warmup)
      res.update(XLA_FLAGS=os.environ.get("XLA_FLAGS"), jax=jax.__version__)
      print(json.dumps(res), flush=True)


if __name__ == "__main__":
  main()
