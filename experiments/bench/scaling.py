"""Throughput of one default config's training steps on 1, 2 and 4 fake CPU devices, and on
2 processes x 2 devices (jax.distributed, launch/local_multiprocess.sh) against 1 x 4.

Fake CPU devices share the same cores, so more of them cannot be faster: what this measures is
the host overhead of sharding (per-device dispatch, collectives, per-process batch slices),
(t_n - t_1) / t_n of the step time. Each setting runs the real loop (`experiments.main`) in its
own processes; step times come from the loop's own `wall_s` in metrics.jsonl (training steps
only; evaluation and checkpoints excluded), dropping the first log interval (compilation).

  python -m experiments.bench.scaling                       # vae default, 80 steps a setting
  python -m experiments.bench.scaling --config=ddpm --steps=40
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SETTINGS = (("1 process x 1 device", 1, 1), ("1 process x 2 devices", 1, 2),
            ("1 process x 4 devices", 1, 4), ("2 processes x 2 devices", 2, 2))


def log(*args) -> None:
  """Progress on stderr."""
  print(*args, file=sys.stderr, flush=True)


def step_seconds(workdir: str, log_every: int) -> float:
  """Mean seconds a training step over the run's log intervals after the first."""
  from jaxgen.train.writers import metric_lines
  walls = [m["wall_s"] for m in map(json.loads, metric_lines(workdir)) if m.get("split") == "train"]
  if len(walls) < 2:
    raise SystemExit(f"error: {workdir} logged {len(walls)} intervals; raise --steps")
  return sum(walls[1:]) / (log_every * len(walls[1:]))


def run_setting(config: str, processes: int, devices: int, steps: int, log_every: int,
                workdir: str, port: int) -> float:
  """Trains `config` for `steps` steps as `processes` x `devices`; returns seconds a step."""
  flags = [f"--config=experiments/configs/{config}.py", f"--workdir={workdir}",
           f"--config.num_train_steps={steps}", f"--config.log_every_steps={log_every}",
           "--config.eval_every_steps=0", f"--config.checkpoint_every_steps={steps}",
           "--config.fcd_num_samples=0", "--config.grid_size=4"]
  if config in ("vae", "cvae", "vampprior"):
    flags.append("--config.iw_samples=0")
  env = dict(os.environ, JAX_PLATFORMS="cpu",
             XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}")
  if processes == 1:
    cmd = [sys.executable, "-m", "experiments.main"] + flags
  else:
    env.update(PYTHON=sys.executable, JAXGEN_COORDINATOR_PORT=str(port))
    cmd = ["bash", "launch/local_multiprocess.sh", str(processes)] + flags
  result = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
  if result.returncode:
    raise SystemExit(f"error: {' '.join(cmd)} failed: {result.stderr.strip().splitlines()[-1:]}")
  return step_seconds(workdir, log_every)


def main() -> None:
  """Runs every setting and prints a markdown table."""
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--config", default="vae")
  parser.add_argument("--steps", type=int, default=80)
  parser.add_argument("--log_every", type=int, default=20)
  args = parser.parse_args()
  rows = []
  with tempfile.TemporaryDirectory() as tmp:
    for i, (name, processes, devices) in enumerate(SETTINGS):
      log(f"{name}: {args.steps} steps of {args.config}")
      seconds = run_setting(args.config, processes, devices, args.steps, args.log_every,
                            os.path.join(tmp, str(i)), 20000 + os.getpid() % 20000 + i)
      rows.append((name, seconds))
      log(f"  {1e3 * seconds:.1f} ms a step")
  base = rows[0][1]
  print(f"{args.config} default, {args.steps} steps a setting (the first {args.log_every} "
        "dropped: compilation)\n")
  print("| setting | ms a step | host overhead vs 1 device |")
  print("|---|---:|---:|")
  for name, seconds in rows:
    print(f"| {name} | {1e3 * seconds:.1f} | {100 * (seconds - base) / seconds:+.1f}% |")


if __name__ == "__main__":
  main()
