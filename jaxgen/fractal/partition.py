"""Range and domain blocks: tiling, 2x averaging and the domain lattice."""

import numpy as np


def downsample2(image: np.ndarray) -> np.ndarray:
  """Averages 2x2 pixel groups: [h, w] -> [h // 2, w // 2] (h, w even)."""
  h, w = image.shape
  return image.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))


def range_blocks(image: np.ndarray, size: int) -> np.ndarray:
  """Tiles `image` [h, w] into raster-ordered blocks [h/size * w/size, size, size]."""
  h, w = image.shape
  blocks = image.reshape(h // size, size, w // size, size).swapaxes(1, 2)
  return blocks.reshape(-1, size, size)


def lattice(extent: int, size: int, step: int) -> np.ndarray:
  """Top-left coordinates of blocks of `size` along one axis of length `extent` at `step`.

  The last position is always `extent - size`, so the whole image is reachable.
  """
  if size > extent:
    return np.zeros(0, dtype=np.int32)
  pos = np.arange(0, extent - size + 1, step, dtype=np.int32)
  if pos[-1] != extent - size:
    pos = np.append(pos, np.int32(extent - size))
  return pos


def domain_positions(half_shape: tuple[int, int], size: int, step: int) -> np.ndarray:
  """Top-left corners [num_domains, 2] (y, x) of domain blocks in the half-size image.

  A domain of the full image is twice the range size; averaged down it is a `size`
  block of the half-size image, so the lattice lives there.
  """
  ys = lattice(half_shape[0], size, step)
  xs = lattice(half_shape[1], size, step)
  yy, xx = np.meshgrid(ys, xs, indexing="ij")
  return np.stack([yy.ravel(), xx.ravel()], axis=1)


def domain_blocks(half: np.ndarray, positions: np.ndarray, size: int) -> np.ndarray:
  """Gathers domain blocks [num_domains, size, size] from the half-size image."""
  off = np.arange(size)
  rows = positions[:, 0, None, None] + off[None, :, None]  # [d, size, 1]
  cols = positions[:, 1, None, None] + off[None, None, :]  # [d, 1, size]
  return half[rows, cols]
