"""U-Net train-step and DDIM-sampler throughput, with XLA's FLOP count and matmul utilisation.

Shapes match the PyTorch peer (/work/shared/bench/torch_unet_bench.py --config small): 32x32x3,
channels (64, 128, 128), 2 residual blocks a level, attention at 16x16 (and in the middle block),
float32, train batch 32 (Adam, eps-MSE at random t of 1000), sampling batch 64. The sampler is the
whole DDIM loop compiled once (lax.scan); image-steps/s = batch * steps / seconds.

  nice -n 15 python -m experiments.bench.unet_step --steps 10 --sample-steps 10

Prints one JSON line (progress on stderr). Each timed call is tagged with how many cores other
processes used meanwhile; `quiet_` figures keep the calls where they left ours alone.
"""

import argparse
import json
import os
import statistics
import sys
import time

from jaxgen import xla_tuning

import jax
import jax.numpy as jnp
import optax

from jaxgen.diffusion import losses, samplers, schedules
from jaxgen.diffusion.process import Spec
from jaxgen.nets.unet import UNet


def log(*args):
  print(*args, file=sys.stderr, flush=True)


def cpu_mark() -> tuple[float, float, float]:
  """(wall, own CPU seconds, system-wide busy CPU seconds) from /proc/stat."""
  t = os.times()
  with open("/proc/stat") as f:
    v = [int(x) for x in f.readline().split()[1:]]
  busy = (sum(v[:8]) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")
  return time.perf_counter(), t.user + t.system, busy


def timed(fn, n: int, warmup: int = 1) -> list[tuple[float, float]]:
  """Runs fn warmup + n times; returns [(seconds, cores used by other processes)] per timed call."""
  for _ in range(warmup):
    jax.block_until_ready(fn())
  recs = []
  for _ in range(n):
    m0 = cpu_mark()
    jax.block_until_ready(fn())
    m1 = cpu_mark()
    wall = m1[0] - m0[0]
    recs.append((wall, max(m1[2] - m0[2] - (m1[1] - m0[1]), 0.0) / wall))
  return recs


def summarise(recs, items: float, flops: float, peak: float | None, unit: str) -> dict:
  """Median throughput, GFLOP/s and utilisation, over all calls and over the quiet ones."""
  out = {"n": len(recs), "other_cores_mean": round(statistics.fmean(o for _, o in recs), 2)}
  quiet = [t for t, o in recs if o <= 0.25]
  for prefix, ts in (("", [t for t, _ in recs]), ("quiet_", quiet)):
    if not ts or (prefix and len(ts) < 3):
      continue
    med = statistics.median(ts)
    out[prefix + "n"] = len(ts)
    out[prefix + "s_per_call_median"] = round(med, 4)
    out[prefix + f"{unit}_per_s_median"] = round(items / med, 2)
    out[prefix + "gflops_median"] = round(flops / med / 1e9, 1)
    if peak:
      out[prefix + "utilisation_vs_matmul"] = round(flops / med / 1e9 / peak, 3)
  return out


def matmul_gflops(n: int = 2048, reps: int = 5, dtype=jnp.float32) -> float:
  """Median n x n matmul rate (float32 unless `dtype`) of this process's XLA CPU backend."""
  a = jax.random.normal(jax.random.PRNGKey(0), (n, n), dtype)
  b = jax.random.normal(jax.random.PRNGKey(1), (n, n), dtype)
  f = jax.jit(jnp.dot)
  recs = timed(lambda: f(a, b), reps, warmup=2)
  return 2.0 * n**3 / statistics.median(t for t, _ in recs) / 1e9


def xla_flops(compiled) -> float:
  """FLOPs XLA counts for one call of a compiled function."""
  cost = compiled.cost_analysis()
  cost = cost[0] if isinstance(cost, (list, tuple)) else cost
  return float(cost["flops"])


def main():
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--batch", type=int, default=32)
  p.add_argument("--sample-batch", type=int, default=64)
  p.add_argument("--steps", type=int, default=10, help="timed train steps")
  p.add_argument("--ddim-steps", type=int, default=10, help="DDIM steps in the compiled sampler")
  p.add_argument("--sample-reps", type=int, default=3, help="timed sampler runs")
  p.add_argument("--skip", choices=["none", "train", "sample"], default="none")
  a = p.parse_args()
  xla_tuning.apply(measure_if_unknown=True)  # this machine's measured flags, before the backend starts

  res = {"bench": "jaxgen_unet_ddpm", "jax": jax.__version__, "devices": str(jax.devices()),
         "XLA_FLAGS": os.environ.get("XLA_FLAGS"), "batch": a.batch, "sample_batch": a.sample_batch}
  net = UNet(out_channels=3, base_channels=64, channel_mult=(1, 2, 2), num_res_blocks=2,
             attention_resolutions=(16,), dropout=0.0)
  betas = schedules.linear_betas(1000)
  sched, spec = schedules.from_betas(betas), Spec(clip_x0=True)
  key = jax.random.PRNGKey(0)
  params = jax.jit(net.init)(key, jnp.zeros((1, 32, 32, 3)), jnp.zeros((1,), jnp.int32))["params"]
  res["params"] = sum(x.size for x in jax.tree.leaves(params))
  peak = matmul_gflops()
  res["matmul_gflops"] = round(peak, 1)
  log("matmul GFLOP/s", res["matmul_gflops"])

  if a.skip != "train":
    tx = optax.adamw(1e-4)

    def train_step(params, opt_state, x0, rng):
      grads = jax.grad(lambda p: losses.training_loss(
          spec, sched, lambda x, t: net.apply({"params": p}, x, t), x0, rng)[0])(params)
      updates, opt_state = tx.update(grads, opt_state, params)
      return optax.apply_updates(params, updates), opt_state

    step = jax.jit(train_step, donate_argnums=(0, 1))
    x0 = jax.random.uniform(key, (a.batch, 32, 32, 3), minval=-1, maxval=1)
    state = [jax.tree.map(jnp.copy, params), tx.init(params)]
    t0 = time.perf_counter()
    compiled = step.lower(state[0], state[1], x0, key).compile()
    res["train_compile_s"] = round(time.perf_counter() - t0, 1)
    flops = xla_flops(compiled)
    res["train_gflop_per_image"] = round(flops / a.batch / 1e9, 3)
    counter = iter(range(10**9))

    def call():
      state[0], state[1] = compiled(state[0], state[1], x0, jax.random.fold_in(key, next(counter)))
      return state[0]

    res["train"] = summarise(timed(call, a.steps, warmup=2), a.batch, flops, peak, "images")
    log("train", res["train"])

  if a.skip != "sample":
    short, kept = schedules.respace(betas, a.ddim_steps)

    def sample(params, rng):
      fn = samplers.respaced_model_fn(lambda x, t: net.apply({"params": params}, x, t), kept)
      x_T = jax.random.normal(rng, (a.sample_batch, 32, 32, 3))
      return samplers.ddim_sample(spec, short, fn, x_T, rng, eta=0.0)

    t0 = time.perf_counter()
    compiled = jax.jit(sample).lower(params, key).compile()
    res["sample_compile_s"] = round(time.perf_counter() - t0, 1)
    # XLA's cost analysis counts a loop body once, so count one denoiser call and scale by steps.
    x = jnp.zeros((a.sample_batch, 32, 32, 3))
    fwd = xla_flops(jax.jit(net.apply).lower({"params": params}, x, jnp.zeros((a.sample_batch,), jnp.int32)).compile())
    flops = fwd * a.ddim_steps
    res["ddim_steps"] = a.ddim_steps
    res["fwd_gflop_per_image"] = round(fwd / a.sample_batch / 1e9, 3)
    res["sample"] = summarise(timed(lambda: compiled(params, key), a.sample_reps), a.sample_batch * a.ddim_steps,
                              flops, peak, "image_steps")
    log("sample", res["sample"])

  # Measured again at the end: on a shared machine the rate drifts, so utilisation uses the mean.
  res["matmul_gflops_end"] = round(matmul_gflops(), 1)
  print(json.dumps(res), flush=True)


if __name__ == "__main__":
  main()
