"""The pinned scorers: classifiers trained once by `python -m experiments.pin_scorers`, whose
parameters are committed under jaxgen/metrics/pinned/ with their sha256 in manifest.json.

FID compares across papers because everyone scores with the same Inception weights; these files
do the same for FCD here: every machine, test and record reads the same yardstick, named by
its digest. A file whose digest differs from the manifest is refused, never used.
"""

import hashlib
import json
import os
from typing import Any

import flax
import jax
import numpy as np

from jaxgen.errors import UserError

PINNED_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pinned")
MANIFEST = os.path.join(PINNED_DIR, "manifest.json")
# The scorers that are pinned: (dataset, train split, kind). The two-domain judges train on both
# domains' train splits (one classifier serves both target domains).
PINNED = (("embedded_digits", "train", "cnn"), ("embedded_digits", "train", "mlp"),
          ("digits_two_domain", "trainA+trainB", "cnn"),
          ("digits_two_domain", "trainA+trainB", "mlp"))


def scorer_name(dataset: str, train_split: str, kind: str) -> str:
  """The file-safe name of a scorer: dataset, train split (when not "train") and kind."""
  split = "" if train_split == "train" else "_" + train_split.replace("+", "_and_")
  return f"{dataset}{split}" + ("" if kind == "cnn" else f"_{kind}")


def manifest() -> dict[str, dict[str, Any]]:
  """The committed manifest: scorer name -> {file, sha256, dataset, train_split, kind, recipe,
  trained_commit, ...}; {} when nothing is pinned yet."""
  if not os.path.exists(MANIFEST):
    return {}
  with open(MANIFEST) as f:
    return json.load(f)


def entry(dataset: str, train_split: str, kind: str) -> dict[str, Any] | None:
  """The manifest entry of a pinned scorer, or None when that scorer is not pinned."""
  return manifest().get(scorer_name(dataset, train_split, kind))


def sha256_of(path: str) -> str:
  """sha256 (hex) of a file's bytes."""
  with open(path, "rb") as f:
    return hashlib.sha256(f.read()).hexdigest()


def load_params(pinned: dict[str, Any], expected: Any) -> Any:
  """The parameters of a pinned scorer, checked against the manifest's sha256 and against the
  shapes of `expected` (a tree of arrays or ShapeDtypeStructs); a one-line UserError otherwise."""
  path = os.path.join(PINNED_DIR, pinned["file"])
  if not os.path.exists(path):
    raise UserError(f"the pinned scorer {path} is missing; restore it with git checkout, or "
                    "re-pin with python -m experiments.pin_scorers")
  with open(path, "rb") as f:
    data = f.read()
  digest = hashlib.sha256(data).hexdigest()
  if digest != pinned["sha256"]:
    raise UserError(f"{path} has sha256 {digest[:12]}..., the manifest says "
                    f"{pinned['sha256'][:12]}...; restore it with git checkout")
  params = flax.serialization.msgpack_restore(data)
  got = jax.tree.map(lambda x: tuple(np.shape(x)), params)
  want = jax.tree.map(lambda x: tuple(x.shape), expected)
  if got != want:
    raise UserError(f"{path} does not hold the parameters its recipe builds; re-pin with "
                    "python -m experiments.pin_scorers")
  return params


def write_params(name: str, params: Any) -> dict[str, str]:
  """Writes `params` as PINNED_DIR/<name>.msgpack; returns {"file", "sha256"}."""
  os.makedirs(PINNED_DIR, exist_ok=True)
  data = flax.serialization.msgpack_serialize(jax.tree.map(np.asarray, jax.device_get(params)))
  with open(os.path.join(PINNED_DIR, name + ".msgpack"), "wb") as f:
    f.write(data)
  return {"file": name + ".msgpack", "sha256": hashlib.sha256(data).hexdigest()}


def write_manifest(entries: dict[str, dict[str, Any]]) -> None:
  """Writes manifest.json (sorted, one entry per pinned scorer)."""
  with open(MANIFEST, "w") as f:
    json.dump(entries, f, indent=2, sort_keys=True)
    f.write("\n")
