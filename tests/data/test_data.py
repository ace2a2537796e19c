"""The data layer: offline embedded digits, tfds catalogue path under mock_data, batching."""

import socket
import time

import numpy as np
import pytest
import tensorflow_datasets as tfds

from jaxgen.data import load_arrays, open_split
from jaxgen.data.pipeline import SplitData, even_batch_size
from jaxgen.errors import UserError


@pytest.fixture
def no_network(monkeypatch):
  """Any connection attempt fails at once, as on a machine without a network."""
  def refuse(*args, **kwargs):
    raise OSError("network disabled in this test")
  monkeypatch.setattr(socket, "create_connection", refuse)
  monkeypatch.setattr(socket.socket, "connect", refuse)


def test_embedded_digits_prepare_offline_with_fixed_balanced_splits(tmp_path, no_network):
  train = load_arrays("embedded_digits", "train", data_dir=str(tmp_path))
  validation = load_arrays("embedded_digits", "validation", data_dir=str(tmp_path))
  test = load_arrays("embedded_digits", "test", data_dir=str(tmp_path))
  assert train["image"].shape == (3500, 28, 28, 1) and train["image"].dtype == np.uint8
  assert test["image"].shape == (1000, 28, 28, 1)
  np.testing.assert_array_equal(np.bincount(train["label"]), [350] * 10)
  np.testing.assert_array_equal(np.bincount(validation["label"]), [50] * 10)
  np.testing.assert_array_equal(np.bincount(test["label"]), [100] * 10)
  # The three splits are disjoint (no image of one is in another; mnist_5k has no duplicates
  # across these splits) and together make the 5,000 digits.
  flat = lambda a: {bytes(x) for x in a["image"].reshape(len(a["image"]), -1)}
  assert not (flat(train) & flat(validation)) and not (flat(train) & flat(test))
  assert not (flat(validation) & flat(test))
  # Real handwriting: mostly dark background, some bright strokes.
  assert 0.05 < np.mean(train["image"] > 128) < 0.3
  # Fixed forever: a second preparation elsewhere gives the same test split.
  again = load_arrays("embedded_digits", "test", data_dir=str(tmp_path / "again"))
  np.testing.assert_array_equal(again["image"], test["image"])


def test_train_batches_are_a_function_of_seed_and_step():
  data = SplitData.open("embedded_digits", "train")
  a, b = data.train_batches(32, seed=3), data.train_batches(32, seed=3)
  np.testing.assert_array_equal(a[7]["image"], b[7]["image"])
  assert not np.array_equal(a[7]["image"], a[8]["image"])
  assert a[0]["image"].dtype == np.float32 and a[0]["image"].max() <= 1.0
  assert data.image_shape == (28, 28, 1) and data.num_classes == 10


def test_tfds_catalogue_dataset_under_mock_data(tmp_path):
  with tfds.testing.mock_data(num_examples=12):
    data = SplitData.open("mnist", "train", data_dir=str(tmp_path))
    batch = data.train_batches(4, seed=0)[0]
  assert batch["image"].shape == (4, 28, 28, 1) and batch["label"].shape == (4,)
  assert data.num_classes == 10


def test_unprepared_catalogue_dataset_fails_fast_offline(tmp_path, no_network, monkeypatch):
  import builtins
  real_import = builtins.__import__

  def fake_import(name, *args, **kwargs):  # pretend TensorFlow is installed
    if name == "tensorflow":
      return object()
    return real_import(name, *args, **kwargs)

  monkeypatch.setattr(builtins, "__import__", fake_import)
  start = time.perf_counter()
  with pytest.raises(UserError, match="no network.*embedded_digits"):
    open_split("mnist", "train", data_dir=str(tmp_path))
  assert time.perf_counter() - start < 10


def test_unprepared_catalogue_dataset_without_tensorflow_names_the_extra(tmp_path):
  with pytest.raises(UserError, match="needs TensorFlow.*jaxgen\\[prepare\\]"):
    open_split("mnist", "train", data_dir=str(tmp_path))


def test_unknown_dataset_names_the_offline_ones():
  with pytest.raises(UserError, match="unknown dataset 'not_a_dataset'.*embedded_digits"):
    open_split("not_a_dataset", "train")


def test_even_eval_batches_have_one_shape_and_cover_the_split():
  assert even_batch_size(500, 200, 4) == 100  # 5 x 100 rather than 200, 200, 100
  assert even_batch_size(1000, 200, 4) == 200
  assert even_batch_size(185, 200, 4) == 200  # no multiple of 4 divides 185: unchanged
  split = SplitData.open("embedded_digits", "validation")
  size = even_batch_size(len(split), 200, 4)
  shapes = {batch["image"].shape for batch in split.eval_batches(size, 4)}
  assert shapes == {(100, 28, 28, 1)}
  assert sum(len(b["label"]) for b in split.eval_batches(size, 4)) == len(split) == 500
