"""The digits U-Net candidates' cost: train-step seconds and sampling images/s, timed alternately.

Issue 35's size search: which width, depth, attention and batch give the most training steps in
the 40-minute budget. Each candidate's train step (eps-MSE, Adam, EMA-free) and one denoiser call
of the sampler are compiled first, then timed alternately in one run (see alternate.py), so the
shared machine's load falls on all alike. The step times turn the search's FCD-against-steps
curves (experiments/tune_unet.py) into FCD against training minutes.

  python -m experiments.bench.unet_sizes --reps 5

Prints one JSON line per candidate and writes experiments/bench/results/unet_sizes.json.
"""

import argparse
import json
import os

from jaxgen import xla_tuning

import jax
import jax.numpy as jnp
import optax

from experiments.bench.alternate import time_alternately
from jaxgen.diffusion import losses, schedules
from jaxgen.diffusion.process import Spec
from jaxgen.nets.unet import UNet


def _shape(channels: int, mult: tuple[int, ...], attention: tuple[int, ...] = ()) -> dict:
  """U-Net fields of a candidate: one residual block a level (the digits' depth)."""
  return dict(base_channels=channels, channel_mult=mult, num_res_blocks=1,
              attention_resolutions=attention)


# name -> (U-Net fields, train batch). "current" is the 32-channel default before issue 35.
CANDIDATES: dict[str, tuple[dict, int]] = {
    "current_b64": (_shape(32, (1, 2, 2), (7,)), 64),
    "c32_noattn_b64": (_shape(32, (1, 2, 2)), 64),
    "c32_124_b64": (_shape(32, (1, 2, 4)), 64),
    "c16_124_b64": (_shape(16, (1, 2, 4)), 64),
    "c24_122_b64": (_shape(24, (1, 2, 2)), 64),
    "c16_244_b64": (_shape(16, (2, 4, 4)), 64),
    "c32_124_b32": (_shape(32, (1, 2, 4)), 32),
    "c16_124_b128": (_shape(16, (1, 2, 4)), 128),
}
OUT = os.path.join(os.path.dirname(__file__), "results", "unet_sizes.json")


def main():
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--reps", type=int, default=5, help="alternating rounds")
  p.add_argument("--only", default="", help="comma-separated candidate names (default: all)")
  p.add_argument("--sample-batch", type=int, default=100)
  a = p.parse_args()
  xla_tuning.apply(measure_if_unknown=True)
  names = [n for n in a.only.split(",") if n] or list(CANDIDATES)
  unknown = sorted(set(names) - set(CANDIDATES))
  if unknown:
    raise SystemExit(f"unknown candidates {unknown}; known: {sorted(CANDIDATES)}")
  sched, spec = schedules.from_betas(schedules.linear_betas(1000)), Spec()
  key = jax.random.PRNGKey(0)
  tx = optax.adam(1e-4)
  train_runs, sample_runs, info = {}, {}, {}
  for name in names:
    fields, batch = CANDIDATES[name]
    net = UNet(out_channels=1, head_dim=32, **fields)
    params = jax.jit(net.init)(key, jnp.zeros((1, 28, 28, 1)), jnp.zeros((1,), jnp.int32))["params"]

    def step(params, opt, x0, rng, net=net):
      grads = jax.grad(lambda p: losses.training_loss(
          spec, sched, lambda x, t: net.apply({"params": p}, x, t), x0, rng)[0])(params)
      updates, opt = tx.update(grads, opt, params)
      return optax.apply_updates(params, updates), opt

    step = jax.jit(step)
    x0 = jax.random.uniform(key, (batch, 28, 28, 1), minval=-1, maxval=1)
    opt = tx.init(params)
    train_runs[name] = (lambda i, step=step, params=params, opt=opt, x0=x0:
                        step(params, opt, x0, jax.random.fold_in(key, i)))
    apply = jax.jit(net.apply)
    xs = jnp.zeros((a.sample_batch, 28, 28, 1))
    ts = jnp.full((a.sample_batch,), 500, jnp.int32)
    sample_runs[name] = lambda i, apply=apply, params=params: apply({"params": params}, xs, ts)
    info[name] = dict(fields, batch=batch,
                      params=int(sum(x.size for x in jax.tree.leaves(params))))
  train_s = time_alternately(train_runs, a.reps)
  fwd_s = time_alternately(sample_runs, a.reps)
  out = {}
  for name in names:
    row = dict(info[name], train_step_s=round(train_s[name], 4),
               train_images_per_s=round(info[name]["batch"] / train_s[name], 1),
               steps_in_40_min=int(2400 / train_s[name]),
               denoiser_images_per_s=round(a.sample_batch / fwd_s[name], 1))
    out[name] = row
    print(json.dumps({"candidate": name, **row}), flush=True)
  os.makedirs(os.path.dirname(OUT), exist_ok=True)
  with open(OUT, "w") as f:
    json.dump({"reps": a.reps, "sample_batch": a.sample_batch, "candidates": out}, f, indent=1)


if __name__ == "__main__":
  main()
