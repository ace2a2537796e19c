"""The 8 isometries are exactly the symmetries of the square."""

import itertools

import numpy as np
import pytest

from jaxgen.fractal import isometries


def _as_tuple(block):
  return tuple(np.asarray(block).ravel())


def test_eight_distinct_symmetries_forming_a_group():
  block = np.arange(16).reshape(4, 4)
  images = [_as_tuple(isometries.apply(block, i)) for i in range(8)]
  assert len(set(images)) == 8
  # Closed under composition, and the identity is index 0: a group of order 8.
  assert images[0] == _as_tuple(block)
  for i, j in itertools.product(range(8), repeat=2):
    composed = isometries.apply(isometries.apply(block, i), j)
    assert _as_tuple(composed) in images


@pytest.mark.parametrize("index", range(8))
def test_each_preserves_distances_and_matches_its_permutation(index):
  size = 5
  yy, xx = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
  coords = np.stack([yy, xx], -1).reshape(-1, 2)  # pixel coordinates, raster order
  perm = isometries.permutations(size)[index]
  moved = coords[perm]  # where each output pixel came from
  d_before = np.abs(coords[:, None] - coords[None]).sum(-1)
  d_after = np.abs(moved[:, None] - moved[None]).sum(-1)
  np.testing.assert_array_equal(d_before, d_after)  # rigid motion of the grid
  block = np.random.default_rng(index).random((size, size))
  np.testing.assert_array_equal(isometries.apply(block, index).ravel(), block.ravel()[perm])


def test_rejects_bad_index():
  with pytest.raises(ValueError):
    isometries.apply(np.zeros((2, 2)), 8)
