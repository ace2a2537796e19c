"""Opening tfds splits as random-access data sources, offline first.

Offline datasets are tfds builders that jaxgen ships (prepared locally in seconds on first use);
any other name is a tfds catalogue dataset that needs a prepared `data_dir` or the network.
"""

import importlib
import os
import socket
from typing import Any, Sequence

import numpy as np
import tensorflow_datasets as tfds

from jaxgen import locks
from jaxgen.errors import UserError

# Dataset name -> "module:BuilderClass" of the builders that need no network.
OFFLINE_BUILDERS: dict[str, str] = {
    "embedded_digits": "jaxgen.data.embedded:EmbeddedDigits",
    "digits_two_domain": "jaxgen.data.two_domain:DigitsTwoDomain",
    # Synthetic fMRI (MinD-Vis): name/subject, e.g. brain_digits/sbj_1, brain_rest/sbj_1.
    "brain_digits": "jaxgen.data.brain:BrainDigits",
    "brain_rest": "jaxgen.data.brain:BrainRest",
}
_NETWORK_PROBE = ("storage.googleapis.com", 443)  # where tfds fetches its catalogue data


def default_data_dir() -> str:
  """tfds' data folder: $TFDS_DATA_DIR or ~/tensorflow_datasets."""
  return os.environ.get("TFDS_DATA_DIR", os.path.expanduser("~/tensorflow_datasets"))


def _offline_builder(name: str, data_dir: str) -> tfds.core.DatasetBuilder:
  base, _, config = name.partition("/")
  module_name, cls_name = OFFLINE_BUILDERS[base].split(":")
  cls = getattr(importlib.import_module(module_name), cls_name)
  if cls.BUILDER_CONFIGS:
    names = [c.name for c in cls.BUILDER_CONFIGS]
    if config not in names:
      known = ", ".join(f"{base}/{n}" for n in names)
      raise UserError(f"dataset {name!r}: name one of its configs, {known}")
    return cls(config=config, data_dir=data_dir, file_format="array_record")
  return cls(data_dir=data_dir, file_format="array_record")


def _network_available(timeout_s: float = 3.0) -> bool:
  try:
    socket.create_connection(_NETWORK_PROBE, timeout=timeout_s).close()
    return True
  except OSError:
    return False


def _prepare_catalogue(builder: tfds.core.DatasetBuilder, name: str, data_dir: str) -> None:
  """Downloads and prepares a tfds catalogue dataset, failing fast when that cannot work."""
  offline = ", ".join(sorted(OFFLINE_BUILDERS))
  try:
    import tensorflow  # noqa: F401  (tfds needs it to prepare catalogue datasets)
  except ImportError:
    raise UserError(
        f"dataset {name!r} is not prepared in {data_dir} and preparing it needs TensorFlow: "
        f"`pip install 'jaxgen[prepare]'`, or use an offline dataset ({offline})") from None
  # tfds alone retries for minutes without a network; we check once, quickly.
  if not _network_available():
    raise UserError(
        f"dataset {name!r} is not prepared in {data_dir} and there is no network to download it; "
        f"prepare it on a machine with the network, or use an offline dataset ({offline})")
  builder.download_and_prepare(file_format="array_record")


def open_split(name: str, split: str, data_dir: str | None = None) -> Sequence[dict[str, Any]]:
  """Returns a random-access source of examples (dicts of numpy arrays) for `name`/`split`."""
  data_dir = data_dir or default_data_dir()
  if name.partition("/")[0] in OFFLINE_BUILDERS:
    # Several processes (test workers, hosts) may open the data at once: one prepares it.
    with locks.exclusive(os.path.join(data_dir, f".{name.replace('/', '_')}.lock")):
      builder = _offline_builder(name, data_dir)
      if not builder.is_prepared():
        print(f"preparing offline dataset {name} in {data_dir} (first use only)", flush=True)
        tfds.disable_progress_bar()
        builder.download_and_prepare(file_format="array_record")
  else:
    try:
      builder = tfds.builder(name, data_dir=data_dir, file_format="array_record")
    except tfds.core.registered.DatasetNotFoundError:
      raise UserError(
          f"unknown dataset {name!r}: use an offline dataset ({', '.join(sorted(OFFLINE_BUILDERS))}) "
          "or a tfds catalogue name such as mnist, fashion_mnist, cifar10") from None
    try:  # Under tfds.testing.mock_data this succeeds without any files.
      return builder.as_data_source(split=split)
    except (NotImplementedError, FileNotFoundError, AssertionError, KeyError):  # not prepared
      with locks.exclusive(os.path.join(data_dir, f".{name.replace('/', '_')}.lock")):
        if not builder.is_prepared():
          _prepare_catalogue(builder, name, data_dir)
  try:
    return builder.as_data_source(split=split)
  except (KeyError, ValueError) as e:
    raise UserError(f"dataset {name!r} has no split {split!r} ({e})") from None


def load_arrays(name: str, split: str, data_dir: str | None = None,
                keys: tuple[str, ...] = ("image", "label")) -> dict[str, np.ndarray]:
  """Reads a whole (small) split into memory: {"image": uint8 [n, h, w, c], "label": [n]}."""
  source = open_split(name, split, data_dir)
  examples = [source[i] for i in range(len(source))]
  return {k: np.stack([np.asarray(ex[k]) for ex in examples]) for k in keys if k in examples[0]}
