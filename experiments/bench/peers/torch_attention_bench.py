#!/usr/bin/env python
"""PyTorch peer of experiments/bench/attention_step.py: nn.TransformerEncoderLayer throughput.

The layer is nn.TransformerEncoderLayer(dim, heads, dim_feedforward=mlp_ratio * dim, dropout=0,
activation="gelu", batch_first=True, norm_first=True): x + MHA(LN x), then + MLP(LN x), the
block jaxgen times, float32 on the CPU with torch.set_num_threads(cores). At the same sizes:
  forward: the layer in eval mode under torch.inference_mode() (PyTorch's fused "fast path",
           torch._transformer_encoder_layer_fwd, when it applies: what inference would use);
  train:   training mode, mean(layer(x)^2).backward() with the gradients set to None before
           each call (parameter gradients only; x does not require one).
Two warm-up calls are excluded; figures are medians over the timed calls, images (sequences)
per second, with each call tagged by the cores other processes used meanwhile (`quiet_`
figures keep the calls where they used at most 0.25). Only torch and numpy are needed:

  ~/peer-venv/bin/python experiments/bench/peers/torch_attention_bench.py [--sizes vit] [--calls 20]

Prints one JSON line per size (progress on stderr), keys as attention_step.py's.
"""

import argparse
import json
import os
import platform
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn as nn
from torch.utils.flop_counter import FlopCounterMode

# name: (tokens, dim, heads, mlp_ratio, batch), as experiments/bench/attention_step.py's SIZES.
SIZES = {
    "vit": (50, 64, 4, 2.0, 128),
    "transgan14": (196, 64, 4, 4.0, 64),
    "transgan28": (784, 32, 4, 4.0, 32),
    "tiny": (16, 16, 2, 2.0, 4),
}
DEFAULT_SIZES = "vit,transgan14,transgan28"


def log(*args):
  print(*args, file=sys.stderr, flush=True)


def cpu_mark():
  """(wall, own CPU seconds, system-wide busy CPU seconds) from /proc/stat."""
  t = os.times()
  with open("/proc/stat") as f:
    v = [int(x) for x in f.readline().split()[1:]]
  return time.perf_counter(), t.user + t.system, (sum(v[:8]) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")


def timed(fn, n, warmup):
  """Runs fn warmup + n times; [(seconds, cores used by other processes)] per timed call."""
  for _ in range(warmup):
    fn()
  recs = []
  for _ in range(n):
    m0 = cpu_mark()
    fn()
    m1 = cpu_mark()
    wall = m1[0] - m0[0]
    recs.append((wall, max(m1[2] - m0[2] - (m1[1] - m0[1]), 0.0) / wall))
  return recs


def summarise(recs, items, flops):
  """Median throughput and GFLOP/s, over all calls and over the quiet ones (as the jax side)."""
  out = {"n": len(recs), "other_cores_mean": round(statistics.fmean(o for _, o in recs), 2)}
  quiet = [t for t, o in recs if o <= 0.25]
  for prefix, ts in (("", [t for t, _ in recs]), ("quiet_", quiet)):
    if not ts or (prefix and len(ts) < 3):
      continue
    med = statistics.median(ts)
    out[prefix + "n"] = len(ts)
    out[prefix + "s_per_call_median"] = round(med, 4)
    out[prefix + "images_per_s_median"] = round(items / med, 2)
    out[prefix + "gflops_median"] = round(flops / med / 1e9, 1)
  return out


def count_flops(fn):
  """FLOPs torch counts for one call (matmuls and attention; FMA = 2)."""
  with FlopCounterMode(display=False) as fc:
    fn()
  return fc.get_total_flops()


def bench(size, calls, warmup):
  """Times the layer's forward and train calls at one size; returns the JSON record."""
  tokens, dim, heads, mlp_ratio, batch = SIZES[size]
  torch.manual_seed(0)
  layer = nn.TransformerEncoderLayer(dim, heads, dim_feedforward=int(mlp_ratio * dim), dropout=0.0,
                                     activation="gelu", batch_first=True, norm_first=True)
  x = torch.from_numpy(np.random.default_rng(0).standard_normal((batch, tokens, dim), np.float32))
  res = {"bench": "torch_attention", "impl": "torch", "size": size, "tokens": tokens, "dim": dim,
         "heads": heads, "mlp_ratio": mlp_ratio, "batch": batch,
         "params": sum(p.numel() for p in layer.parameters())}

  def forward():
    with torch.inference_mode():
      return layer(x)

  def train():
    for p in layer.parameters():
      p.grad = None
    loss = layer(x).square().mean()
    loss.backward()
    return loss

  for mode, fn, training in (("forward", forward, False), ("train", train, True)):
    # Counted on the unfused path (FlopCounterMode does not see the fused forward's kernel).
    layer.train(True)
    flops = count_flops(fn if training else lambda: layer(x).detach())
    layer.train(training)
    res[f"gflop_{mode}_per_image"] = round(flops / batch / 1e9, 5)
    res[mode] = summarise(timed(fn, calls, warmup), batch, flops)
  return res


def main():
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--sizes", default=DEFAULT_SIZES, help=f"comma-separated, of {', '.join(SIZES)}")
  p.add_argument("--calls", type=int, default=20, help="timed calls per size and mode")
  p.add_argument("--warmup", type=int, default=2)
  p.add_argument("--threads", type=int, default=0, help="0 = every core")
  a = p.parse_args()
  sizes = a.sizes.split(",")
  if unknown := [s for s in sizes if s not in SIZES]:
    sys.exit(f"error: unknown size(s) {', '.join(unknown)}; pick from {', '.join(SIZES)}")
  torch.set_num_threads(a.threads or os.cpu_count() or 1)
  for size in sizes:
    log(f"[torch {size}] timing ...")
    res = bench(size, a.calls, a.warmup)
    res.update(torch=torch.__version__, torch_threads=torch.get_num_threads(),
               python=platform.python_version(), cpu_count=os.cpu_count())
    print(json.dumps(res), flush=True)


if __name__ == "__main__":
  main()
