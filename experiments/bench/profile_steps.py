"""Where each family's train step spends its time on this machine, op by op (issue 12).

For each default config (the step a README run executes: same model, batch and optimizer) it
builds the family, jits its train step as the loop does (state donated), times it with
compilation excluded, then records a `jax.profiler` trace of a few steps and sums XLA's
per-instruction events by kind: convolution forward, input gradient and weight gradient,
matmuls (dense layers, attention), fusions (normalisation, activations, optimizer),
copies/transposes and the rest. Library fusions (YNNPACK) are classified by what they contain.

  nice -n 5 python -m experiments.bench.profile_steps [--configs ddpm,dcgan,vae] [--steps 5]
  JAXGEN_XLA_TUNING=off python -m experiments.bench.profile_steps   # XLA's default flags

Prints one table per config (ms per step and share), the top instructions, and a JSON line.
Results: experiments/bench/results/profile_steps*.txt.
"""

import argparse
import collections
import glob
import json
import os
import re
import statistics
import sys
import tempfile
import time

import jax
import jax.numpy as jnp
import numpy as np
from jax._src.profiler import ProfileData

from experiments.bench.unet_step import matmul_gflops, timed, xla_flops
from jaxgen import xla_tuning
from jaxgen.train.compile import run_once
from jaxgen.train.family import DataSpec, make_family

# Default configs whose step we profile, with the data they train on (embedded digits).
CONFIGS = {"ddpm": "experiments/configs/ddpm.py", "dcgan": "experiments/configs/dcgan.py",
           "vae": "experiments/configs/vae.py", "classifier": "experiments/configs/classifier.py",
           "transgan": "experiments/configs/transgan.py",
           "transgan_conv": "experiments/configs/transgan_conv.py"}


def log(*args):
  print(*args, file=sys.stderr, flush=True)


def load_config(path: str):
  """`get_config()` of a config file, as experiments.main would load it."""
  import importlib.util
  spec = importlib.util.spec_from_file_location("cfg", path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config()


def _conv_kind(line: str) -> str:
  """Forward, input gradient or weight gradient, for one HLO convolution line."""
  window = re.search(r"window=\{size=(\d+)x(\d+)", line)
  out = re.search(r"= f\w+\[(\d+),(\d+),(\d+),(\d+)\]", line)
  # A weight gradient convolves over the activations' whole extent: its window is larger than
  # the [kh, kw] "spatial" extent of its output (the kernel).
  if window and out and int(window[1]) * int(window[2]) > int(out[2]) * int(out[3]):
    return "conv weight grad"
  return "conv input grad" if "transpose(" in line else "conv forward"


def _op_name(line: str) -> str:
  found = re.search(r'op_name="([^"]*)"', line)
  return found[1] if found else ""


def _dot_kind(line: str) -> str:
  """Attention's matmuls (inside an attention module) or any other dense layer's."""
  return "attention matmul" if "ttention" in _op_name(line) else "matmul (dense layers)"


def _fusion_kind(line: str) -> str:
  """What a loop fusion computes, read from the JAX source path in its metadata."""
  op = _op_name(line)
  if "Norm" in op:
    return "normalisation (group / batch norm)"
  if "ttention" in op:
    return "attention (softmax, reshapes)"
  if "jvp(" in op and ("/" in op.split("jvp(", 1)[1]) and "jit(_" not in op:
    return "other elementwise (network, loss)"
  return "optimizer, EMA, random numbers"


def classify(hlo_text: str) -> dict[str, str]:
  """Instruction name -> kind, from the compiled HLO (looking inside library fusions)."""
  bodies: dict[str, list[str]] = {}
  current = None
  for line in hlo_text.splitlines():
    head = re.match(r"%?([\w.\-]+) .*\{$", line)
    if head and not line.startswith(" "):
      current = head[1]
      bodies[current] = []
    elif current is not None:
      bodies[current].append(line)
  kinds = {}
  for line in hlo_text.splitlines():
    m = re.match(r"\s*(?:ROOT )?%?([\w.\-]+) = .*? ([a-z][\w-]*)\(", line)
    if not m:
      continue
    name, opcode = m.groups()
    if opcode == "fusion":
      called = re.search(r"calls=%?([\w.\-]+)", line)
      body = bodies.get(called[1], []) if called else []
      conv_lines = [l for l in body if " convolution(" in l]
      if conv_lines:
        kinds[name] = _conv_kind(conv_lines[0] + line)  # the metadata sits on the fusion
        continue
      if any(" dot(" in l for l in body):
        kinds[name] = _dot_kind(line)
        continue
      kinds[name] = "copy / transpose" if name.startswith(("transpose", "copy")) else _fusion_kind(line)
    elif opcode == "convolution":
      kinds[name] = _conv_kind(line)
    elif opcode == "dot":
      kinds[name] = _dot_kind(line)
    elif opcode in ("copy", "transpose"):
      kinds[name] = "copy / transpose"
    elif opcode in ("concatenate", "pad", "slice", "dynamic-slice", "dynamic-update-slice"):
      kinds[name] = "pad / slice / concat"
    elif opcode in ("reduce", "reduce-window", "select-and-scatter"):
      kinds[name] = "reduce"
    else:
      kinds[name] = "other"
  return kinds


def profile_events(trace_dir: str, kinds: dict[str, str]) -> list[tuple[str, float]]:
  """(instruction name, microseconds) of every XLA instruction executed in a trace.

  XLA's CPU runtime runs convolutions asynchronously on its Eigen pool: their trace events
  cover only the dispatch, and the runtime meanwhile starts independent instructions. So each
  instruction is charged its own event's duration, and the idle time until the next one starts
  (the runtime waiting) goes to the latest convolution dispatched in the same execution, or to
  the instruction itself when none was. The charges add up to the traced executions' wall time.
  """
  path = glob.glob(os.path.join(trace_dir, "**", "*.xplane.pb"), recursive=True)[0]
  starts, ends = [], []  # (start_ns, duration_ns, name) of instructions; end_ns of each execution
  for plane in ProfileData.from_file(path).planes:
    if plane.name != "/host:CPU":
      continue
    for line in plane.lines:
      if "XLAPjRtCpuClient" not in line.name and "XLAEigen" not in line.name:
        continue
      for e in line.events:
        if e.name == "ThunkExecutor::Execute (wait for completion)":
          ends.append(e.start_ns + e.duration_ns)
        elif not e.name.startswith(("ThreadpoolListener", "end: ", "ThunkExecutor")):
          starts.append((e.start_ns, e.duration_ns, e.name))
  starts.sort()
  ends.sort()
  charged: collections.Counter = collections.Counter()
  pending, window_end = None, None
  for i, (t0, duration, name) in enumerate(starts):
    end = next((t for t in ends if t >= t0), t0)
    if end != window_end:  # a new execution (step)
      pending, window_end = None, end
    if kinds.get(name, "").startswith("conv"):
      pending = name
    t1 = min(starts[i + 1][0], window_end) if i + 1 < len(starts) else window_end
    gap = max(t1 - t0, 0)
    own = min(duration, gap)
    charged[name] += own
    charged[pending or name] += gap - own
  return [(name, ns / 1e3) for name, ns in charged.items()]


def bench_config(name: str, steps: int, profile_steps: int) -> dict:
  """Times one default config's train step and splits it by instruction kind."""
  config = load_config(CONFIGS[name])
  spec = DataSpec(image_shape=(28, 28, 1), num_classes=10)
  family = make_family(config, spec)
  rng = jax.random.PRNGKey(0)
  b = config.batch_size
  batch = {"image": jax.random.uniform(rng, (b, 28, 28, 1)),
           "label": jax.random.randint(rng, (b,), 0, 10)}
  state = run_once(family.create_state, rng, batch)
  step = jax.jit(family.train_step, donate_argnums=(0,))
  t0 = time.perf_counter()
  compiled = step.lower(state, batch, rng).compile()
  compile_s = time.perf_counter() - t0
  flops = xla_flops(compiled)
  kinds = classify(compiled.as_text())
  holder = [state]
  counter = iter(range(10**9))

  def call():
    holder[0], metrics = compiled(holder[0], batch, jax.random.fold_in(rng, next(counter)))
    return metrics

  recs = timed(call, steps, warmup=2)
  median = statistics.median(t for t, _ in recs)
  with tempfile.TemporaryDirectory() as d:
    with jax.profiler.trace(d):
      for _ in range(profile_steps):
        jax.block_until_ready(call())
    events = profile_events(d, kinds)
  # Same data, keys and step count with any flags: the last loss shows both settings train alike.
  final = {k: round(float(v), 6) for k, v in sorted(jax.device_get(call()).items()) if np.ndim(v) == 0}
  per_kind = collections.Counter()
  per_instr = collections.Counter()
  for instr, us in events:
    per_kind[kinds.get(instr, "other")] += us / profile_steps / 1e3
    per_instr[instr] += us / profile_steps / 1e3
  return {"config": name, "batch": b, "compile_s": round(compile_s, 1),
          "step_ms_median": round(median * 1e3, 1), "images_per_s": round(b / median, 1),
          "gflop_per_step": round(flops / 1e9, 2), "gflops": round(flops / median / 1e9, 1),
          "other_cores_mean": round(statistics.fmean(o for _, o in recs), 2),
          "metrics_after_steps": [2 + steps + profile_steps + 1, final],
          "kinds_ms": {k: round(v, 1) for k, v in per_kind.most_common()},
          "top_ms": {f"{k} ({kinds.get(k, 'other')})": round(v, 1) for k, v in per_instr.most_common(12)},
          "traced_ms": round(sum(per_kind.values()), 1)}


def print_table(res: dict, peak: float) -> None:
  """One markdown table: ms per step and share of the traced time, by instruction kind."""
  print(f"\n### {res['config']}: batch {res['batch']}, {res['step_ms_median']} ms/step "
        f"({res['images_per_s']} images/s, {res['gflops']} GFLOP/s = "
        f"{res['gflops'] / peak:.0%} of matmul), compile {res['compile_s']} s, "
        f"after {res['metrics_after_steps'][0]} steps {res['metrics_after_steps'][1]}")
  print("| kind | ms/step | share |\n|---|---|---|")
  total = res["traced_ms"] or 1.0
  for kind, ms in res["kinds_ms"].items():
    print(f"| {kind} | {ms} | {ms / total:.0%} |")
  print("top instructions: " + ", ".join(f"{k} {v} ms" for k, v in res["top_ms"].items()))


def main():
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--configs", default="ddpm,dcgan,vae")
  p.add_argument("--steps", type=int, default=5, help="timed steps per config")
  p.add_argument("--profile-steps", type=int, default=3, help="traced steps per config")
  a = p.parse_args()
  # Per-instruction trace events from XLA's CPU runtime, and this machine's measured flags
  # (unless JAXGEN_XLA_TUNING=off): both before the backend starts.
  os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_cpu_enable_xprof_traceme=true").strip()
  xla_tuning.apply(measure_if_unknown=True)
  peak = matmul_gflops()
  # bfloat16 only pays where the CPU has bf16 dot instructions (avx512_bf16, AMX); see README.
  bf16 = matmul_gflops(dtype=jnp.bfloat16)
  isa = sorted({f for l in open("/proc/cpuinfo") if l.startswith("flags") for f in l.split()
                if f.startswith(("avx512", "amx"))}) if os.path.exists("/proc/cpuinfo") else []
  print(f"jax {jax.__version__}, matmul 2048^2 float32 {peak:.0f} / bfloat16 {bf16:.0f} GFLOP/s, "
        f"CPU AVX-512/AMX flags: {' '.join(isa) or 'none'}; XLA_FLAGS={os.environ['XLA_FLAGS']!r}")
  results = []
  for name in a.configs.split(","):
    if name not in CONFIGS:
      sys.exit(f"error: unknown config {name!r}; pick from {', '.join(CONFIGS)}")
    log(f"[{name}] compiling and timing ...")
    res = bench_config(name, a.steps, a.profile_steps)
    print_table(res, peak)
    results.append(res)
  print(json.dumps({"matmul_gflops": round(peak, 1), "xla_flags": os.environ["XLA_FLAGS"],
                    "results": results}))


if __name__ == "__main__":
  main()
