"""Trains and evaluates one experiment.

  python -m experiments.main --config=experiments/configs/vae.py[:tiny] --workdir=DIR \
      [--config.KEY=VALUE ...]

Rerunning the same command resumes from the latest checkpoint in DIR. SIGTERM or SIGINT (a
preemption notice, Ctrl-C) finishes the step, saves a checkpoint and exits with status 75.
"""

import sys

from absl import app, flags, logging
from ml_collections import config_flags

_CONFIG = config_flags.DEFINE_config_file("config", None, "Experiment config file[:tiny].")
_WORKDIR = flags.DEFINE_string("workdir", None, "Folder for checkpoints, metrics and samples.")
_DISTRIBUTED = flags.DEFINE_bool(
    "distributed", False, "Call jax.distributed.initialize() first (multi-host; see launch/).")
_COORDINATOR = flags.DEFINE_string(
    "coordinator_address", None, "host:port of process 0 (auto-detected on SLURM and TPU pods).")
_NUM_PROCESSES = flags.DEFINE_integer("num_processes", None, "Processes in the job (auto if unset).")
_PROCESS_ID = flags.DEFINE_integer("process_id", None, "This process's index (auto if unset).")
flags.mark_flags_as_required(["config", "workdir"])


def main(argv: list[str]) -> None:
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  import jax
  from jaxgen import compilation_cache, xla_tuning
  xla_tuning.apply(measure_if_unknown=True)  # before the backend starts (once per machine)
  compilation_cache.enable()
  if _DISTRIBUTED.value:
    if _COORDINATOR.value:  # several processes on CPUs need a collectives backend
      jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(_COORDINATOR.value, _NUM_PROCESSES.value, _PROCESS_ID.value)
  from jaxgen.errors import UserError
  from jaxgen.train import loop
  from jaxgen.train.preemption import PREEMPTED_EXIT_CODE, Preempted
  logging.set_verbosity(logging.WARNING)
  try:
    final = loop.train_and_evaluate(load_config(), _WORKDIR.value)
  except UserError as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(2)
  except Preempted as e:  # a SIGTERM or SIGINT: the status launchers read as "requeue"
    print(f"preempted: {e}", file=sys.stderr)
    sys.exit(PREEMPTED_EXIT_CODE)
  from jaxgen import storage
  from jaxgen.train.writers import PARTS
  workdir = storage.resolve(_WORKDIR.value)
  # A workdir in an object store holds its metrics one object a line (jaxgen.train.writers).
  metrics = f"{PARTS}/" if storage.is_url(workdir) else "metrics.jsonl"
  print(f"done: metrics in {workdir}/{metrics}, grids in {workdir}/samples/, "
        f"checkpoints in {workdir}/checkpoints/")
  if final:
    print("final eval: " + " ".join(f"{k}={v:.4g}" for k, v in sorted(final.items())))


def _last_line(error: BaseException) -> str:
  """The most specific line of an error whose text may hold a whole traceback."""
  lines = [l.strip() for l in str(error).splitlines() if l.strip()]
  return lines[-1] if lines else type(error).__name__


def _fail(message: str) -> None:
  print(f"error: {message}", file=sys.stderr)
  sys.exit(2)


def parse_flags(argv: list[str]) -> list[str]:
  """absl flag parsing with one-line errors instead of tracebacks for bad configs."""
  try:
    return flags.FLAGS(argv)
  except flags.Error as e:
    _fail(f"bad flag: {_last_line(e)}")
  except AttributeError as e:  # an override of a key the config does not have
    _fail(f"unknown config key {str(e).strip(chr(34))} in a --config.KEY=VALUE flag; "
          "the keys are those the config file sets")


def load_config():
  """The parsed --config (loaded lazily by ml_collections), or a one-line error."""
  try:
    config = _CONFIG.value
    _ = "family" in config  # a config that failed to load raises only when first read
    return config
  except (OSError, ValueError, TypeError, AttributeError) as e:
    _fail(f"cannot load --config: {_last_line(e)}")


if __name__ == "__main__":
  app.run(main, flags_parser=parse_flags)
