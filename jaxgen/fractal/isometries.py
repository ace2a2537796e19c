"""The 8 isometries of the square (the dihedral group D4) acting on square blocks.

Isometry `i` transposes the block when `i >= 4`, then rotates it by `(i % 4) * 90` degrees.
The encoder applies them to whole batches of blocks; the decoder only needs the pixel
permutation each one induces, so both are derived from the same `apply`.
"""

import numpy as np

NUM_ISOMETRIES = 8


def apply(blocks: np.ndarray, index: int) -> np.ndarray:
  """Applies isometry `index` (0..7) to the last two axes of `blocks` [..., b, b]."""
  if not 0 <= index < NUM_ISOMETRIES:
    raise ValueError(f"isometry index must be in 0..7, got {index}")
  if index >= 4:
    blocks = np.swapaxes(blocks, -1, -2)
  return np.rot90(blocks, k=index % 4, axes=(-2, -1))


def all_isometries(blocks: np.ndarray) -> np.ndarray:
  """Stacks the 8 images of `blocks` [..., b, b] -> [8, ..., b, b]."""
  return np.stack([apply(blocks, i) for i in range(NUM_ISOMETRIES)])


def permutations(size: int) -> np.ndarray:
  """Flat source index of every output pixel, per isometry: [8, size * size] int32.

  `apply(block, i).ravel() == block.ravel()[permutations(size)[i]]`, which lets the
  decoder express every isometry as one gather.
  """
  grid = np.arange(size * size, dtype=np.int32).reshape(size, size)  # [b, b]
  return all_isometries(grid).reshape(NUM_ISOMETRIES, size * size)
