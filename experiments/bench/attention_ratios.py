"""Transformer-block throughput, jaxgen against flax.linen's attention and PyTorch, one table (issue 14).

Runs experiments.bench.attention_step (jaxgen's TransformerBlock and the same block around
flax.linen.MultiHeadDotProductAttention) and experiments/bench/peers/torch_attention_bench.py
(nn.TransformerEncoderLayer, norm_first, GELU) as separate processes, one after the other so they
never share the cores, `--rounds` times in alternating order; then prints, per size and for the
forward and the train (forward + backward) call, the medians over rounds in images (sequences)
per second and the ratios jaxgen / PyTorch and jaxgen / flax (above 1: jaxgen is faster).
Compilation and warm-up calls are excluded on every side.

Needs the peer environment of ../shared/bench/README.md (torch 2.13 CPU; numpy):
  python3 -m venv ~/peer-venv && ~/peer-venv/bin/pip install torch==2.13.0 numpy

  nice -n 5 python -m experiments.bench.attention_ratios [--rounds 3] [--quick]

Results: experiments/bench/results/attention_ratios.txt.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

from experiments.bench.attention_step import DEFAULT_SIZES, SIZES
from experiments.bench.peer_ratios import pick, run_json

PEER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "peers", "torch_attention_bench.py")
MODES = ("forward", "train")
IMPLS = ("jaxgen", "flax", "torch")


def log(*args):
  print(*args, file=sys.stderr, flush=True)


def one_round(py: str, peer: str, sizes: str, calls: int, torch_first: bool,
              timeout: float) -> dict[str, float]:
  """Both processes once; keys are 'impl:size:mode', values images/s."""
  jax_cmd = [py, "-m", "experiments.bench.attention_step", "--sizes", sizes, "--calls", str(calls)]
  torch_cmd = [peer, PEER, "--sizes", sizes, "--calls", str(calls)]
  records = []
  for cmd in ((torch_cmd, jax_cmd) if torch_first else (jax_cmd, torch_cmd)):
    records += run_json(cmd, timeout)
  return {f"{r['impl']}:{r['size']}:{mode}": pick(r[mode], "images") for r in records for mode in MODES}


def table(rounds: list[dict[str, float]], sizes: list[str]) -> str:
  """Markdown: per size and mode, each side's median over rounds and the two ratios."""
  med = {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}
  lines = [f"{len(rounds)} round(s), medians; images (sequences) per second, float32",
           "", "| size | call | jaxgen | flax MHA | PyTorch | jaxgen / PyTorch | jaxgen / flax |",
           "|---|---|---|---|---|---|---|"]
  for size in sizes:
    tokens, dim, heads, mlp_ratio, batch = SIZES[size]
    label = f"{size}: {tokens} tokens x {dim}, {heads} heads, MLP x{mlp_ratio:g}, batch {batch}"
    for mode in MODES:
      j, f, t = (med[f"{impl}:{size}:{mode}"] for impl in IMPLS)
      lines.append(f"| {label} | {mode} | {j:.1f} | {f:.1f} | {t:.1f} | **{j / t:.2f}x** | {j / f:.2f}x |")
  lines.append("")
  lines.append("per-round jaxgen / PyTorch: " + "; ".join(
      ", ".join(f"{s} {m} {r[f'jaxgen:{s}:{m}'] / r[f'torch:{s}:{m}']:.2f}" for s in sizes for m in MODES)
      for r in rounds))
  return "\n".join(lines)


def main():
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--peer-python", default=os.path.expanduser("~/peer-venv/bin/python"))
  p.add_argument("--sizes", default=DEFAULT_SIZES, help=f"comma-separated, of {', '.join(SIZES)}")
  p.add_argument("--rounds", type=int, default=3)
  p.add_argument("--calls", type=int, default=20, help="timed calls per size, mode and side")
  p.add_argument("--quick", action="store_true", help="the ViT size only, 5 calls, 1 round (a smoke run)")
  p.add_argument("--timeout", type=float, default=1800.0, help="seconds per benchmark process")
  a = p.parse_args()
  if a.quick:
    a.sizes, a.calls, a.rounds = "vit", 5, 1
  if not os.access(a.peer_python, os.X_OK):
    sys.exit(f"error: no PyTorch peer environment at {a.peer_python}; create it with "
             "`python3 -m venv ~/peer-venv && ~/peer-venv/bin/pip install torch==2.13.0 numpy` "
             "or pass --peer-python")
  sizes = a.sizes.split(",")
  if unknown := [s for s in sizes if s not in SIZES]:
    sys.exit(f"error: unknown size(s) {', '.join(unknown)}; pick from {', '.join(SIZES)}")
  rounds = []
  try:
    for i in range(a.rounds):
      log(f"round {i + 1} of {a.rounds}")
      rounds.append(one_round(sys.executable, a.peer_python, a.sizes, a.calls, i % 2 == 1, a.timeout))
  except (RuntimeError, subprocess.TimeoutExpired) as e:
    sys.exit(f"error: a benchmark failed: {str(e).splitlines()[0][:300]}")
  print(table(rounds, sizes))
  print(json.dumps({"rounds": rounds}))


if __name__ == "__main__":
  main()
