"""The digits U-Net size search (issue 35): validation FCD against training minutes.

Each candidate trains the ddpm config with its U-Net shape for about the same wall time, scoring
200 DDIM-50 samples against validation by the pinned scorer at four points on the way (the loop's
own evaluation). Minutes are steps times the candidate's quiet train-step seconds from
experiments/bench/unet_sizes.py (timed alternately in one run), so load from other work on this
shared machine does not bend the curves; the logged wall time is kept beside them.

  python -m experiments.tune_unet --run=c16_124_b64     # one candidate, into runs/tune_unet/
  python -m experiments.tune_unet --plot                # the curves and their record

`--plot` writes experiments/results/validation/tune_unet.json and tune_unet.png.
"""

import json
import os
import subprocess
import sys

from absl import app, flags

from experiments import records
from experiments.bench import unet_sizes

# name -> train steps, about 11 quiet minutes each; the shapes are the bench's candidates of the
# same name (unet_sizes.CANDIDATES), spelled out in full ("current_b64" is the default before
# issue 35, which the search replaced).
STEPS: dict[str, int] = {"current_b64": 1200, "c24_122_b64": 1700, "c16_124_b64": 2400}
EVALS = 4  # FCD points on each curve
FCD_SAMPLES = 200
ROOT = os.path.join("runs", "tune_unet")

flags.DEFINE_string("run", "", "train this candidate")
flags.DEFINE_bool("plot", False, "collect the curves into a record and a plot")
FLAGS = flags.FLAGS


def overrides(name: str) -> dict[str, str]:
  """The ddpm config overrides that give candidate `name` its bench shape and batch."""
  fields, batch = unet_sizes.CANDIDATES[name]
  return {**{f"model.{k}": str(v) for k, v in fields.items()}, "batch_size": str(batch)}


def run_candidate(name: str) -> None:
  """Trains candidate `name` through experiments.main (a fresh workdir each time)."""
  steps = STEPS[name]
  every = steps // EVALS
  args = dict(overrides(name), num_train_steps=str(steps), eval_every_steps=str(every),
              checkpoint_every_steps=str(every), fcd_num_samples=str(FCD_SAMPLES))
  cmd = [sys.executable, "-m", "experiments.main", "--config=experiments/configs/ddpm.py",
         f"--workdir={os.path.join(ROOT, name)}"] + [f"--config.{k}={v}" for k, v in args.items()]
  print(" ".join(cmd), flush=True)
  subprocess.run(cmd, check=True)


def curves() -> dict:
  """Each finished candidate's (step, quiet minutes, logged minutes, validation FCD) points."""
  from jaxgen.train.writers import metric_lines
  with open(unet_sizes.OUT) as f:
    step_s = {n: c["train_step_s"] for n, c in json.load(f)["candidates"].items()}
  out = {}
  for name in STEPS:
    lines = metric_lines(os.path.join(ROOT, name))
    if not lines:
      continue
    points, wall = [], 0.0
    for line in lines:
      row = json.loads(line)
      if row.get("split") == "train":
        wall += row.get("wall_s", 0.0)
      if row.get("split") == "eval" and "fcd" in row:
        points.append(dict(step=row["step"], minutes=round(row["step"] * step_s[name] / 60, 2),
                           logged_minutes=round(wall / 60, 2), fcd=round(row["fcd"], 2)))
    out[name] = dict(train_step_s=step_s[name], overrides=overrides(name), points=points)
  return out


def plot(data: dict, path: str) -> None:
  """FCD against quiet training minutes, one line per candidate (matplotlib's Agg canvas)."""
  from matplotlib.backends.backend_agg import FigureCanvasAgg
  from matplotlib.figure import Figure
  fig = Figure(figsize=(5.5, 3.6))
  FigureCanvasAgg(fig)
  ax = fig.add_subplot()
  for name, c in data.items():
    ax.plot([p["minutes"] for p in c["points"]], [p["fcd"] for p in c["points"]], "o-", label=name)
  ax.set_xlabel("training minutes (2 cores, quiet step time)")
  ax.set_ylabel(f"validation FCD ({FCD_SAMPLES} DDIM-50 samples)")
  ax.set_yscale("log")
  ax.legend()
  fig.tight_layout()
  fig.savefig(path, dpi=110)


def main(argv):
  del argv
  if FLAGS.run:
    if FLAGS.run not in STEPS:
      raise SystemExit(f"unknown candidate {FLAGS.run!r}; known: {', '.join(STEPS)}")
    run_candidate(FLAGS.run)
  if FLAGS.plot:
    data = curves()
    if not data:
      raise SystemExit(f"no finished candidate under {ROOT}; run --run=NAME first")
    os.makedirs(records.VALIDATION_DIR, exist_ok=True)
    with open(os.path.join(records.VALIDATION_DIR, "tune_unet.json"), "w") as f:
      json.dump(dict(split="validation", fcd_samples=FCD_SAMPLES, sampler="ddim50",
                     candidates=data), f, indent=1, sort_keys=True)
    plot(data, os.path.join(records.VALIDATION_DIR, "tune_unet.png"))
    for name, c in data.items():
      print(name, [(p["minutes"], p["fcd"]) for p in c["points"]])


if __name__ == "__main__":
  app.run(main)
