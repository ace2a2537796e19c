"""Shared small images and codes for the fractal tests (encoded once per session)."""

import numpy as np
import pytest
import skimage.data

from jaxgen import fractal


@pytest.fixture(scope="session")
def grey():
  """A 128x128 crop of `camera` (face, coat and sky: edges and flat areas)."""
  return skimage.data.camera()[64:192, 192:320].copy()


@pytest.fixture(scope="session")
def rgb():
  """A 96x80 crop of `astronaut` (deliberately not a multiple of the block size)."""
  return skimage.data.astronaut()[40:136, 200:280].copy()


@pytest.fixture(scope="session")
def grey_code(grey):
  """`grey` encoded at 8:1 with small blocks."""
  return fractal.encode(grey, ratio=8.0, params=fractal.codec.default_params(4, 16))


def psnr(a: np.ndarray, b: np.ndarray) -> float:
  """PSNR in dB of two uint8 images."""
  mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
  return float(10 * np.log10(255.0 ** 2 / max(mse, 1e-12)))
