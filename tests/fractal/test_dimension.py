"""Box-counting and information dimension on exact self-similar sets."""

import numpy as np
import pytest

from jaxgen import fractal


def _sierpinski_triangle(n=512):
  i, j = np.indices((n, n))
  return ((i & j) == 0).astype(np.uint8)  # Pascal's triangle mod 2


def _sierpinski_carpet(levels=5):
  n = 3 ** levels
  i, j = np.indices((n, n))
  keep = np.ones((n, n), bool)
  for k in range(levels):
    keep &= ~(((i // 3 ** k) % 3 == 1) & ((j // 3 ** k) % 3 == 1))
  return keep.astype(np.uint8) * 255  # grey-valued on purpose


@pytest.mark.parametrize("fn", [fractal.box_counting_dimension, fractal.information_dimension])
def test_triangle(fn):
  assert fn(_sierpinski_triangle()) == pytest.approx(np.log(3) / np.log(2), abs=0.01)


@pytest.mark.parametrize("fn", [fractal.box_counting_dimension, fractal.information_dimension])
def test_carpet(fn):
  assert fn(_sierpinski_carpet(), base=3) == pytest.approx(np.log(8) / np.log(3), abs=0.01)


def test_filled_square_and_line():
  assert fractal.box_counting_dimension(np.ones((256, 256))) == pytest.approx(2.0, abs=0.01)
  line = np.zeros((256, 256))
  line[100] = 1
  assert fractal.box_counting_dimension(line) == pytest.approx(1.0, abs=0.01)


def test_empty_image_is_an_error():
  with pytest.raises(ValueError):
    fractal.box_counting_dimension(np.zeros((64, 64)))
