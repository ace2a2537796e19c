"""Writing the records a README may quote: the code that made them, the command, nothing lost.

A record under experiments/results/ (test records, and validation/ for tuning) must come from
committed code: `write` refuses a dirty tree there, and a model trained from a dirty tree. Runs
that only look write elsewhere (`--scratch`, or any other folder).
"""

import glob
import json
import os
from typing import Any

from jaxgen import provenance
from jaxgen.errors import UserError

RESULTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
VALIDATION_DIR = os.path.join(RESULTS_DIR, "validation")
SCRATCH_DIR = os.path.join(provenance.REPO_ROOT, "runs", "scratch_results")


def is_published(results_dir: str) -> bool:
  """Whether `results_dir` is (inside) experiments/results/, whose records the README reads."""
  path = os.path.realpath(results_dir)
  root = os.path.realpath(RESULTS_DIR)
  return path == root or path.startswith(root + os.sep)


def check_publishable(results_dir: str, trained: list[dict[str, Any]] | None = None) -> None:
  """Refuses (UserError) a record for experiments/results/ from a dirty checkout, or of a model
  whose training provenance (`trained`, the workdir's entries) shows a dirty or unknown tree."""
  if not is_published(results_dir):
    return
  code = provenance.checkout_state()
  if code["dirty"]:
    raise UserError("the checkout has uncommitted changes; commit them before writing a record "
                    "under experiments/results/, or pass --scratch to write elsewhere")
  if trained is not None and provenance.trained_dirty(trained):
    what = ("has no provenance.json (trained before it was written)" if not trained else
            "was trained (in part) from uncommitted changes")
    raise UserError(f"the model {what}; retrain it from a commit for a published record, or "
                    "pass --scratch")


def write(record: dict[str, Any], results_dir: str, command: str) -> dict[str, Any]:
  """Adds the checkout's commit and the command to `record`, writes results_dir/<name>.json
  (atomically) and returns the record."""
  code = provenance.checkout_state()
  record["commit"], record["command"] = provenance.describe(code), command
  os.makedirs(results_dir, exist_ok=True)
  path = os.path.join(results_dir, record["name"] + ".json")
  with open(path + ".tmp", "w") as f:
    json.dump(record, f, indent=2, sort_keys=True)
    f.write("\n")
  os.replace(path + ".tmp", path)
  return record


def encode_bits(hits) -> str:
  """A record's per-item correctness: '1'/'0' per item of a bool array [n] (compact JSON)."""
  return "".join("1" if h else "0" for h in hits)


def decode_bits(text: str):
  """The bool array [n] that `encode_bits` wrote."""
  import numpy as np
  return np.frombuffer(text.encode(), np.uint8) == ord("1")


def load(results_dir: str) -> list[dict[str, Any]]:
  """Every record in results_dir (not its subfolders), by file name."""
  return [json.load(open(p)) for p in sorted(glob.glob(os.path.join(results_dir, "*.json")))]
