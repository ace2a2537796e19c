"""Batches for the train loop: grain over a tfds data source, placed on the mesh.

Train batches are a pure function of (seed, step): grain's MapDataset is random access, so the
batch for step k is `dataset[k]` and a resumed run sees exactly the batches it would have seen.
Each process reads only its own slice of the global batch (multi-host) and
`jax.make_array_from_process_local_data` assembles the global array.
"""

import dataclasses
from typing import Any, Iterator, Sequence

import grain
import jax
import numpy as np

from jaxgen.data.sources import open_split
from jaxgen.errors import UserError

Example = dict[str, Any]
# Sources up to this size are read into memory once: random reads of array_record files are
# slower than the tiny models they feed.
_IN_MEMORY_BYTES = 1 << 30


class _ArraySource(Sequence[Example]):
  """Random-access source over in-memory numpy arrays (one per feature)."""

  def __init__(self, arrays: dict[str, np.ndarray]):
    self._arrays = arrays
    self._len = len(next(iter(arrays.values())))

  def __len__(self) -> int:
    return self._len

  def __getitem__(self, i: int) -> Example:
    return {k: v[i] for k, v in self._arrays.items()}


def _maybe_in_memory(source: Sequence[Example]) -> Sequence[Example]:
  first = source[0]
  nbytes = sum(np.asarray(v).nbytes for v in first.values()) * len(source)
  if nbytes > _IN_MEMORY_BYTES:
    return source
  examples = [source[i] for i in range(len(source))]
  return _ArraySource({k: np.stack([np.asarray(e[k]) for e in examples]) for k in first})


def _num_classes(source: Any) -> int:
  """Classes of the 'label' feature from the tfds metadata, 0 when there is none."""
  info = getattr(source, "dataset_info", None)
  try:
    return int(info.features["label"].num_classes)
  except (AttributeError, KeyError, TypeError):
    return 0


def preprocess(example: Example) -> Example:
  """uint8 images -> float32 in [0, 1] with a channel axis; labels -> int32; signals -> float32."""
  out = {}
  for key, value in example.items():
    value = np.asarray(value)
    if key.startswith("image"):
      if value.ndim == 2:
        value = value[..., None]  # [h, w] -> [h, w, 1]
      out[key] = value.astype(np.float32) / 255.0
    elif key.startswith("label"):
      out[key] = value.astype(np.int32)
    elif key.startswith("signal"):
      out[key] = value.astype(np.float32)  # brain signals [voxels], already normalised
  return out


@dataclasses.dataclass
class SplitData:
  """One split of a dataset with its batching rules.

  Attributes:
    source: random-access examples.
    image_shape: (h, w, c) of the images; (0, 0, 0) for signal-only data.
    num_classes: number of label classes (0 when the data has no labels).
    signal_length: voxels of the "signal" feature (brain data), 0 when there is none.
  """

  source: Sequence[Example]
  image_shape: tuple[int, int, int]
  num_classes: int
  signal_length: int = 0

  @classmethod
  def open(cls, name: str, split: str, data_dir: str | None = None) -> "SplitData":
    """Opens `name`/`split` and reads it into memory when it is small."""
    raw = open_split(name, split, data_dir)
    num_classes = _num_classes(raw)
    source = _maybe_in_memory(raw)
    if len(source) == 0:
      raise UserError(f"split {split!r} of dataset {name!r} is empty")
    first = preprocess(source[0])
    signal_length = first["signal"].shape[0] if "signal" in first else 0
    if "image" not in first:
      if signal_length:  # brain signals without images (masked brain modelling)
        return cls(source=source, image_shape=(0, 0, 0), num_classes=num_classes,
                   signal_length=signal_length)
      raise UserError(f"dataset {name!r} has no 'image' feature; jaxgen trains on images")
    shape = first["image"].shape
    if len(shape) != 3 or shape[-1] not in (1, 3):
      raise UserError(f"dataset {name!r} has images of shape {shape}; expected [h, w, 1 or 3]")
    return cls(source=source, image_shape=tuple(shape), num_classes=num_classes,
               signal_length=signal_length)

  def __len__(self) -> int:
    return len(self.source)

  def train_batches(self, global_batch: int, seed: int) -> grain.MapDataset:
    """Random-access shuffled batches of this process's slice: `ds[step]` is step's batch."""
    local = local_batch_size(global_batch)
    return (grain.MapDataset.source(self.source).seed(seed).shuffle().repeat(None)
            .map(preprocess).batch(local, drop_remainder=True))

  def arrays(self) -> Example:
    """The whole split in memory, preprocessed: {"image": [n, h, w, c] float32, ...}."""
    examples = [preprocess(self.source[i]) for i in range(len(self.source))]
    return {k: np.stack([e[k] for e in examples]) for k in examples[0]}

  def eval_batches(self, batch_size: int, num_devices: int) -> Iterator[Example]:
    """All examples in order, as this process's slices of global batches.

    `batch_size` must divide the devices; the last batch is trimmed to divide them too (at most
    num_devices - 1 examples unseen).
    """
    n, processes, index = len(self.source), jax.process_count(), jax.process_index()
    for start in range(0, n, batch_size):
      stop = min(n, start + batch_size)
      stop = start + (stop - start) // num_devices * num_devices
      if stop <= start:
        return
      share = (stop - start) // processes
      lo = start + index * share
      examples = [preprocess(self.source[i]) for i in range(lo, lo + share)]
      yield {k: np.stack([e[k] for e in examples]) for k in examples[0]}


def even_batch_size(num_examples: int, batch_size: int, num_devices: int) -> int:
  """A batch size for `eval_batches` under which every batch has the same shape, so the eval
  step compiles once instead of twice (a short last batch is a second program): the largest
  multiple of `num_devices` in [batch_size / 2, batch_size] that divides `num_examples`, else
  `batch_size` itself. For 500 validation digits at 200 on 4 devices: 5 batches of 100."""
  for size in range(batch_size - batch_size % num_devices, (batch_size + 1) // 2 - 1,
                    -num_devices):
    if size > 0 and num_examples % size == 0:
      return size
  return batch_size


def local_batch_size(global_batch: int) -> int:
  """This process's share of a global batch; the batch must divide the devices evenly."""
  devices = jax.device_count()
  if global_batch % devices:
    raise UserError(f"batch_size={global_batch} does not divide evenly over {devices} devices; "
                    f"use a multiple of {devices} (--config.batch_size=...)")
  return global_batch // jax.process_count()


def global_step_index(step: int) -> int:
  """Index into `train_batches` of this process's slice at `step`."""
  return step * jax.process_count() + jax.process_index()


def to_global(batch: Example, sharding: jax.sharding.Sharding) -> dict[str, jax.Array]:
  """Assembles per-process numpy batches into global arrays sharded by `sharding`."""
  return {k: jax.make_array_from_process_local_data(sharding, np.asarray(v))
          for k, v in batch.items()}


class _MergedBatches:
  """`ds[k]` = batch k of domain A with batch k of domain B under "<key>_b" names."""

  def __init__(self, a: grain.MapDataset, b: grain.MapDataset):
    self._a, self._b = a, b

  def __getitem__(self, index: int) -> Example:
    batch_b = self._b[index]
    return {**self._a[index], **{f"{k}_b": v for k, v in batch_b.items()}}


@dataclasses.dataclass
class PairedSplit:
  """Two unpaired domains (e.g. tfds cycle_gan's trainA/trainB) batched side by side.

  Batches hold domain A under the usual keys and domain B under "image_b" / "label_b"; the
  two are shuffled independently, so pairs change from epoch to epoch.
  """

  a: SplitData
  b: SplitData

  @property
  def image_shape(self) -> tuple[int, int, int]:
    return self.a.image_shape

  @property
  def num_classes(self) -> int:
    return self.a.num_classes

  def __len__(self) -> int:
    """Domain A's size: eval_batches yields every A example once."""
    return len(self.a)

  def train_batches(self, global_batch: int, seed: int) -> _MergedBatches:
    """Random-access merged batches: `ds[step]`."""
    return _MergedBatches(self.a.train_batches(global_batch, seed),
                          self.b.train_batches(global_batch, seed + 1))

  def eval_batches(self, batch_size: int, num_devices: int) -> Iterator[Example]:
    """Every A example once, next to B examples cycled in order."""
    b_batches = list(self.b.eval_batches(batch_size, num_devices))
    for i, batch in enumerate(self.a.eval_batches(batch_size, num_devices)):
      batch_b = b_batches[i % len(b_batches)]
      n = min(len(batch["image"]), len(batch_b["image"]))
      yield {**{k: v[:n] for k, v in batch.items()}, **{f"{k}_b": v[:n] for k, v in batch_b.items()}}

  def arrays(self) -> Example:
    """Domain A's arrays (what scorers of A-domain images compare against)."""
    return self.a.arrays()
