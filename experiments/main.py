"""Trains and evaluates one experiment.

  python -m experiments.main --config=experiments/configs/vae.py[:tiny] --workdir=DIR \
      [--config.KEY=VALUE ...]

Rerunning the same command resumes from the latest checkpoint in DIR.
"""

import sys

from absl import app, flags, logging
from ml_collections import config_flags

_CONFIG = config_flags.DEFINE_config_file("config", None, "Experiment config file[:tiny].")
_WORKDIR = flags.DEFINE_string("workdir", None, "Folder for checkpoints, metrics and samples.")
_DISTRIBUTED = flags.DEFINE_bool(
    "distributed", False, "Call jax.distributed.initialize() first (multi-host; see launch/).")
flags.mark_flags_as_required(["config", "workdir"])


def main(argv: list[str]) -> None:
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  import jax
  if _DISTRIBUTED.value:
    jax.distributed.initialize()
  from jaxgen.errors import UserError
  from jaxgen.train import loop
  logging.set_verbosity(logging.WARNING)
  try:
    final = loop.train_and_evaluate(_CONFIG.value, _WORKDIR.value)
  except UserError as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(2)
  workdir = loop.prepare_workdir(_WORKDIR.value)
  print(f"done: metrics in {workdir}/metrics.jsonl, grids in {workdir}/samples/, "
        f"checkpoints in {workdir}/checkpoints/")
  if final:
    print("final eval: " + " ".join(f"{k}={v:.4g}" for k, v in sorted(final.items())))


if __name__ == "__main__":
  app.run(main)
