"""One benchmark sized for a 15-minute accelerator lease: matmul peak, then the training steps of
the paper-shape U-Net, DCGAN, the VAE and a transformer stack (ViT), and the fractal encoder of
a 512x512 image, in float32 and bfloat16, as images/s and model-FLOP utilisation (MFU) against
the measured matmul peak of the same dtype.

  python -m experiments.bench.device                 # on the accelerator (about 6-10 minutes)
  python -m experiments.bench.device --quick         # tiny shapes on CPU, about a minute
  python -m experiments.bench.device --out=experiments/bench/results/device.md

Each training step is the family's own jitted `train_step` (the loop's), compiled ahead of time:
compile seconds are reported apart and never timed as steps. Model FLOPs are XLA's count for the
step lowered for the CPU (`model_flops`: the same arithmetic on every device), so
MFU = FLOPs per step / step time / measured matmul peak of that dtype. bfloat16 applies
where a network takes `compute_dtype` (the U-Net); the other rows say "f32 only". The fractal
encoder is host code around jitted block matching: its row gives images/s, not MFU.
"""

import argparse
import dataclasses
import importlib
import json
import statistics
import sys
import time
from typing import Any, Callable

from jaxgen import xla_tuning

xla_tuning.apply(measure_if_unknown=False)

import jax  # noqa: E402 (after the XLA flags)
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from jaxgen.train.profiling import model_flops  # noqa: E402 (the MFU numerator)

DTYPES = ("float32", "bfloat16")


def log(*args) -> None:
  """Progress on stderr, so stdout holds only the table."""
  print(*args, file=sys.stderr, flush=True)


def median_seconds(fn: Callable[[], Any], reps: int) -> float:
  """Median wall seconds of `reps` calls of fn after one untimed call."""
  jax.block_until_ready(fn())
  times = []
  for _ in range(reps):
    start = time.perf_counter()
    jax.block_until_ready(fn())
    times.append(time.perf_counter() - start)
  return statistics.median(times)


def matmul_peak(dtype: str, n: int, reps: int) -> float:
  """FLOP/s of an n x n by n x n matmul in `dtype` (2 n^3 FLOPs a call)."""
  keys = jax.random.split(jax.random.key(0))
  a = jax.random.normal(keys[0], (n, n), jnp.float32).astype(dtype)
  b = jax.random.normal(keys[1], (n, n), jnp.float32).astype(dtype)
  matmul = jax.jit(lambda x, y: x @ y)
  return 2.0 * n**3 / median_seconds(lambda: matmul(a, b), reps)


@dataclasses.dataclass(frozen=True)
class Workload:
  """A training step to time: experiments/configs/<config>.py at `arg`, with overrides."""

  name: str
  config: str
  arg: str | None
  image_shape: tuple[int, int, int]
  overrides: dict
  has_dtype: bool  # whether the network honours config.compute_dtype


def workloads(quick: bool, unet_batches: tuple[int, ...] = (128,)) -> list[Workload]:
  """The paper shapes (quick: the tests' tiny shapes); the paper U-Net once per batch size in
  `unet_batches` (a larger batch than the paper's 128 shows how far MFU is a batch-size effect)."""
  if quick:
    return [
        Workload("unet (ddpm)", "ddpm", "tiny", (28, 28, 1), {"batch_size": 8}, True),
        Workload("dcgan", "dcgan", "tiny", (28, 28, 1), {"batch_size": 8}, False),
        Workload("vae", "vae", "tiny", (28, 28, 1), {"batch_size": 8}, False),
        Workload("transformer (vit)", "vit", "tiny", (28, 28, 1), {"batch_size": 8}, False),
    ]
  unets = [Workload(f"unet (ddpm:paper, 35.7M), batch {b}", "ddpm", "paper", (32, 32, 3),
                   {"batch_size": b}, True) for b in unet_batches]
  return unets + [
      Workload("dcgan", "dcgan", None, (28, 28, 1), {"batch_size": 128}, False),
      Workload("vae", "vae", None, (28, 28, 1), {"batch_size": 128}, False),
      Workload("transformer (vit)", "vit", None, (28, 28, 1), {"batch_size": 128}, False),
  ]


def time_train_step(work: Workload, dtype: str, reps: int) -> dict:
  """Compiles and times one family's train step; returns its row's figures."""
  from jaxgen.train.family import DataSpec, make_family
  config = importlib.import_module(f"experiments.configs.{work.config}").get_config(work.arg)
  with config.unlocked():
    for key, value in work.overrides.items():
      config[key] = value
    config.compute_dtype = dtype
  family = make_family(config, DataSpec(image_shape=work.image_shape, num_classes=10))
  b = config.batch_size
  keys = jax.random.split(jax.random.key(0), 2)
  batch = {"image": jax.random.uniform(keys[0], (b,) + work.image_shape),
           "label": jax.random.randint(keys[1], (b,), 0, 10)}
  state = jax.jit(family.create_state)(jax.random.key(1), batch)
  start = time.perf_counter()
  compiled = jax.jit(family.train_step, donate_argnums=(0,)).lower(
      state, batch, jax.random.key(2)).compile()
  compile_s = time.perf_counter() - start
  flops = model_flops(family.train_step, state, batch, jax.random.key(2))
  holder = {"state": state}

  def step():
    holder["state"], metrics = compiled(holder["state"], batch, jax.random.key(3))
    return metrics

  seconds = median_seconds(step, reps)
  return {"compile_s": compile_s, "step_s": seconds, "images_per_s": b / seconds,
          "flops": flops, "batch": b}


def time_fractal(quick: bool, reps: int) -> dict:
  """Seconds to encode a 512x512 grey image (quick: 128x128) at 30:1 to .fic bytes."""
  from jaxgen import fractal
  size = 128 if quick else 512
  yy, xx = np.mgrid[0:size, 0:size] / size
  # A smooth field with edges and texture, deterministic (no data files on an accelerator host).
  image = (127 + 60 * np.sin(9 * xx) * np.cos(7 * yy) + 50 * (xx + yy > 1.0)
           + 15 * np.sin(80 * xx * yy)).clip(0, 255).astype(np.uint8)
  encode = lambda: fractal.to_bytes(fractal.encode(image, ratio=30.0))
  start = time.perf_counter()
  encode()  # compiles the block matching
  first_s = time.perf_counter() - start
  times = []
  for _ in range(reps):
    start = time.perf_counter()
    encode()
    times.append(time.perf_counter() - start)
  seconds = statistics.median(times)
  return {"compile_s": max(first_s - seconds, 0.0), "step_s": seconds,
          "images_per_s": 1.0 / seconds, "size": size}


def run(quick: bool, only: set[str] | None = None, reps: int | None = None,
        unet_batches: tuple[int, ...] = (128,), jsonl: str = "") -> list[dict]:
  """All rows of the table (`only`: a subset of "peak", "unet", "dcgan", "vae",
  "transformer", "fractal" by name prefix). Each row is also appended to `jsonl` as soon as it
  is measured, so a lease that ends mid-run keeps what was done."""
  reps = reps or (3 if quick else 20)
  want = lambda name: only is None or any(name.startswith(o) for o in only)
  rows: list[dict] = []
  peaks: dict[str, float] = {}

  def keep(row: dict) -> None:
    rows.append(row)
    if jsonl:
      with open(jsonl, "a") as f:
        f.write(json.dumps(row) + "\n")

  if only is None or any(o != "fractal" for o in only):  # MFU needs the peaks
    for dtype in DTYPES:
      n = 512 if quick else 8192
      peaks[dtype] = matmul_peak(dtype, n, reps)
      log(f"matmul peak {dtype}: {peaks[dtype] / 1e12:.2f} TFLOP/s (n={n})")
      keep({"name": f"matmul {n}", "dtype": dtype, "tflops": peaks[dtype] / 1e12})
  for work in workloads(quick, unet_batches):
    if not want(work.name.split()[0]):
      continue
    for dtype in DTYPES:
      if dtype != "float32" and not work.has_dtype:
        keep({"name": work.name, "dtype": dtype, "note": "f32 only"})
        continue
      log(f"{work.name} {dtype}: compiling")
      row = time_train_step(work, dtype, reps)
      row.update(name=work.name, dtype=dtype)
      if row["flops"] and dtype in peaks:
        row["mfu"] = row["flops"] / row["step_s"] / peaks[dtype]
        row["tflops"] = row["flops"] / row["step_s"] / 1e12
      log(f"  {row['images_per_s']:.1f} images/s, MFU {100 * row.get('mfu', 0.0):.1f}%, "
          f"compile {row['compile_s']:.1f} s")
      keep(row)
  if want("fractal"):
    log("fractal encoder: compiling")
    row = time_fractal(quick, 1 if quick else max(1, reps // 5))
    keep(dict(row, name=f"fractal encode {row['size']}x{row['size']} at 30:1",
                     dtype="float32"))
  return rows


def table(rows: list[dict], device: str) -> str:
  """The rows as a markdown table under a line naming the device."""
  lines = [f"Device: {device}", "",
           "| workload | dtype | images/s | step ms | TFLOP/s | MFU | compile s |",
           "|---|---|---:|---:|---:|---:|---:|"]
  for r in rows:
    if "note" in r:
      lines.append(f"| {r['name']} | {r['dtype']} | {r['note']} | | | | |")
      continue
    ips = f"{r['images_per_s']:.1f}" if "images_per_s" in r else ""
    ms = f"{1e3 * r['step_s']:.1f}" if "step_s" in r else ""
    tf = f"{r['tflops']:.2f}" if "tflops" in r else ""
    mfu = f"{100 * r['mfu']:.1f}%" if "mfu" in r else ""
    comp = f"{r['compile_s']:.1f}" if "compile_s" in r else ""
    lines.append(f"| {r['name']} | {r['dtype']} | {ips} | {ms} | {tf} | {mfu} | {comp} |")
  return "\n".join(lines)


def main(argv: list[str] | None = None) -> str:
  """Parses flags, runs, prints the table (and writes it to --out); returns it."""
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--quick", action="store_true", help="tiny shapes; CPU in about a minute")
  parser.add_argument("--only", default="", help="comma-separated subset, e.g. peak,unet")
  parser.add_argument("--reps", type=int, default=0, help="timed calls per row")
  parser.add_argument("--out", default="", help="also write the table to this file")
  parser.add_argument("--unet_batches", default="128",
                      help="comma-separated batch sizes for the paper U-Net rows")
  parser.add_argument("--jsonl", default="", help="append each row to this file as it is measured")
  args = parser.parse_args(argv)
  only = {o.strip() for o in args.only.split(",") if o.strip()} or None
  start = time.perf_counter()
  try:
    unet_batches = tuple(int(b) for b in args.unet_batches.split(",") if b.strip())
  except ValueError:
    parser.error(f"--unet_batches={args.unet_batches!r}: give comma-separated integers, e.g. 128,512")
  rows = run(args.quick, only, args.reps or None, unet_batches, args.jsonl)
  device = jax.devices()[0]
  text = table(rows, f"{device.platform} {device.device_kind} ({jax.device_count()} devices)")
  text += f"\n\nTotal wall time {time.perf_counter() - start:.0f} s.\n"
  print(text)
  if args.out:
    with open(args.out, "w") as f:
      f.write(text)
  return text


if __name__ == "__main__":
  main()
