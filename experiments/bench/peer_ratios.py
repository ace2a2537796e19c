"""jaxgen against its PyTorch peers, side by side in one run: one table of ratios (issue 12).

Runs, one after the other so they never share the cores, each benchmark as its own process:
the float32 matmul rate of both frameworks, the U-Net train step and DDIM sampling
(experiments.bench.unet_step vs torch_unet_bench.py --config small), and the DCGAN and conv-VAE
steps (experiments.bench.small_step vs torch_small_bench.py), `--rounds` times in alternating
order; then prints the medians over rounds and the ratio jaxgen / PyTorch (above 1: jaxgen is
faster), with each side's utilisation of its own measured matmul rate. Compilation (jit,
first calls) is excluded on both sides.

Needs the peer environment of ../shared/bench/README.md:
  python3 -m venv ~/peer-venv && ~/peer-venv/bin/pip install torch==2.13.0 diffusers numpy

  nice -n 5 python -m experiments.bench.peer_ratios [--rounds 2] [--quick]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

SHARED_BENCH = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "bench")


def log(*args):
  print(*args, file=sys.stderr, flush=True)


def run_json(cmd: list[str], timeout: float) -> list[dict]:
  """Runs one benchmark process; returns the JSON objects it printed on stdout."""
  log("$", " ".join(os.path.basename(c) if i == 0 else c for i, c in enumerate(cmd)))
  out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
  if out.returncode:
    raise RuntimeError(f"{' '.join(cmd)} failed ({out.returncode}): {out.stderr.strip()[-500:]}")
  return [json.loads(l) for l in out.stdout.splitlines() if l.startswith("{")]


def pick(summary: dict, unit: str) -> float:
  """Median throughput: over the calls no other process disturbed when there are enough."""
  for key in (f"quiet_{unit}_per_s_median", f"{unit}_per_s_median"):
    if key in summary:
      return float(summary[key])
  raise KeyError(f"no {unit}_per_s in {sorted(summary)}")


def one_round(py: str, peer: str, quick: bool, timeout: float) -> dict[str, float]:
  """Every measurement once; keys are 'side:figure'."""
  steps, small_steps = ("3", "5") if quick else ("10", "30")
  r: dict[str, float] = {}
  jax_mm = run_json([py, os.path.join(SHARED_BENCH, "peak_matmul.py"), "--backend", "jax", "--sizes", "2048"], timeout)
  torch_mm = run_json([peer, os.path.join(SHARED_BENCH, "peak_matmul.py"), "--backend", "torch", "--sizes", "2048"],
                      timeout)
  r["jaxgen:matmul"] = jax_mm[0].get("quiet_gflops_median", jax_mm[0]["gflops_median"])
  r["torch:matmul"] = torch_mm[0].get("quiet_gflops_median", torch_mm[0]["gflops_median"])
  ju = run_json([py, "-m", "experiments.bench.unet_step", "--steps", steps, "--ddim-steps", "5",
                 "--sample-reps", "2" if quick else "3"], timeout)[0]
  tu = run_json([peer, os.path.join(SHARED_BENCH, "torch_unet_bench.py"), "--config", "small", "--batch", "32",
                 "--steps", steps, "--sample-steps", "5" if quick else "10"], timeout)[0]
  r["jaxgen:unet_train"] = pick(ju["train"], "images")
  r["torch:unet_train"] = pick(tu["train_eager"], "images")
  r["jaxgen:unet_sample"] = pick(ju["sample"], "image_steps")
  r["torch:unet_sample"] = pick(tu["sample_nograd"], "image_steps")
  r["jaxgen:unet_train_gflop"] = ju["train_gflop_per_image"]
  r["torch:unet_train_gflop"] = tu["gflop_train_per_image"]
  for model in ("dcgan", "vae"):
    js = run_json([py, "-m", "experiments.bench.small_step", "--model", model, "--steps", small_steps], timeout)[0]
    ts = run_json([peer, os.path.join(SHARED_BENCH, "torch_small_bench.py"), "--model", model,
                   "--steps", small_steps], timeout)[0]
    r[f"jaxgen:{model}"] = pick(js["train"], "images")
    r[f"torch:{model}"] = pick(ts["train_eager"], "images")
    r[f"jaxgen:{model}_gflop"] = js["gflop_per_image"]
    r[f"torch:{model}_gflop"] = ts["gflop_per_image_train"]
  return r


def table(rounds: list[dict[str, float]]) -> str:
  """Markdown: per benchmark, both sides' medians over rounds, the ratio and utilisations."""
  med = {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}
  rows = [("U-Net 32x32x3 (64,128,128) train, batch 32", "unet_train", "images/s", "unet_train_gflop"),
          ("U-Net denoiser forward (sampling), batch 64", "unet_sample", "image-steps/s", None),
          ("DCGAN 32x32x3 (64 ch) G+D step, batch 64", "dcgan", "images/s", "dcgan_gflop"),
          ("conv VAE 28x28x1, batch 128", "vae", "images/s", "vae_gflop")]
  lines = [f"float32 matmul 2048^2: jaxgen (XLA) {med['jaxgen:matmul']:.0f}, PyTorch {med['torch:matmul']:.0f} GFLOP/s; "
           f"{len(rounds)} round(s), medians",
           "", "| benchmark | jaxgen | PyTorch | ratio | jaxgen GFLOP/s (% of matmul) | PyTorch GFLOP/s (% of matmul) |",
           "|---|---|---|---|---|---|"]
  for title, key, unit, gflop in rows:
    j, t = med[f"jaxgen:{key}"], med[f"torch:{key}"]
    cells = [title, f"{j:.1f} {unit}", f"{t:.1f} {unit}", f"**{j / t:.2f}x**"]
    if gflop:
      jg, tg = j * med[f"jaxgen:{gflop}"], t * med[f"torch:{gflop}"]
      cells += [f"{jg:.0f} ({jg / med['jaxgen:matmul']:.0%})", f"{tg:.0f} ({tg / med['torch:matmul']:.0%})"]
    else:
      cells += ["", ""]
    lines.append("| " + " | ".join(cells) + " |")
  lines.append("")
  lines.append("ratio = jaxgen / PyTorch throughput (above 1: jaxgen faster); per-round ratios: " + "; ".join(
      ", ".join(f"{k} {r[f'jaxgen:{k}'] / r[f'torch:{k}']:.2f}" for k in ("unet_train", "unet_sample", "dcgan", "vae"))
      for r in rounds))
  return "\n".join(lines)


def main():
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--peer-python", default=os.path.expanduser("~/peer-venv/bin/python"))
  p.add_argument("--rounds", type=int, default=1)
  p.add_argument("--quick", action="store_true", help="fewer timed steps (a smoke run)")
  p.add_argument("--timeout", type=float, default=1800.0, help="seconds per benchmark process")
  a = p.parse_args()
  if not os.access(a.peer_python, os.X_OK):
    sys.exit(f"error: no PyTorch peer environment at {a.peer_python}; create it with "
             "`python3 -m venv ~/peer-venv && ~/peer-venv/bin/pip install torch==2.13.0 diffusers numpy` "
             "or pass --peer-python")
  if not os.path.isdir(SHARED_BENCH):
    sys.exit(f"error: the peer benchmarks are not at {os.path.abspath(SHARED_BENCH)}; run from a checkout beside shared/")
  rounds = []
  try:
    for i in range(a.rounds):
      log(f"round {i + 1} of {a.rounds}")
      rounds.append(one_round(sys.executable, a.peer_python, a.quick, a.timeout))
  except (RuntimeError, subprocess.TimeoutExpired) as e:
    sys.exit(f"error: a benchmark failed: {str(e).splitlines()[0][:300]}")
  print(table(rounds))
  from jaxgen import xla_tuning
  print(json.dumps({"rounds": rounds, "xla_tuning": xla_tuning.stored_decision()}))


if __name__ == "__main__":
  main()
