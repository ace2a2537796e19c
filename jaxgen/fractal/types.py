"""Containers for a fractal code (coder settings, one plane's transforms, the whole image)
and for the encoder's per-level search results."""

import dataclasses

import numpy as np

from jaxgen.fractal.quantize import Quantizer


@dataclasses.dataclass(frozen=True)
class CoderParams:
  """Settings the decoder needs to interpret the transform stream.

  Attributes:
    min_block, max_block: range block sizes (powers of two, min >= 2).
    domain_steps: lattice step in half-size pixels for each level, largest block first.
    quant: contrast and block-mean quantiser.
  """

  min_block: int = 4
  max_block: int = 32
  domain_steps: tuple[int, ...] = (16, 8, 4, 4)
  quant: Quantizer = Quantizer()

  def __post_init__(self):
    # Checked before the level loop: a min_block of 0 from a corrupt file must not loop.
    pow2 = lambda b: isinstance(b, int) and 2 <= b <= 64 and b & (b - 1) == 0
    if not (pow2(self.min_block) and pow2(self.max_block) and self.min_block <= self.max_block):
      raise ValueError(f"block sizes must be powers of two with 2 <= min <= max <= 64, "
                       f"got min={self.min_block} max={self.max_block}")
    levels = (self.max_block // self.min_block).bit_length()
    if len(self.domain_steps) != levels or not all(1 <= s <= 255 for s in self.domain_steps):
      raise ValueError(f"need one domain step in 1..255 per level {self.sizes[:levels]}, "
                       f"got {self.domain_steps}")

  @property
  def sizes(self) -> tuple[int, ...]:
    """Range block size of each level, largest first."""
    return tuple(self.max_block >> i
                 for i in range((self.max_block // self.min_block).bit_length()))


@dataclasses.dataclass(frozen=True)
class PlaneCode:
  """Transforms of one channel, leaves in quadtree (Z) order; all arrays are [num_leaves].

  Attributes:
    height, width: the plane's size before padding to whole `max_block` tiles.
    y, x, size: range block top-left and side, in plane pixels.
    s_idx: contrast index (0: the block is its quantised mean only).
    dc_idx: block-mean index.
    cand: isometry * num_domains + domain index (ignored where s_idx == 0).
  """

  height: int
  width: int
  y: np.ndarray
  x: np.ndarray
  size: np.ndarray
  s_idx: np.ndarray
  dc_idx: np.ndarray
  cand: np.ndarray


@dataclasses.dataclass(frozen=True)
class FractalCode:
  """A whole image: 1 plane (grey) or 3 (Y, Cb, Cr; chroma at half resolution)."""

  height: int
  width: int
  channels: int
  params: CoderParams
  planes: tuple[PlaneCode, ...]


def padded_shape(height: int, width: int, max_block: int) -> tuple[int, int]:
  """Plane size rounded up to whole top-level tiles."""
  return (-(-height // max_block) * max_block, -(-width // max_block) * max_block)


def domain_grid(shape: tuple[int, int], size: int, step: int) -> tuple[int, int]:
  """Domain lattice rows and columns of one level for a padded plane of `shape`
  (matches `partition.lattice`)."""
  def count(extent):
    half = extent // 2
    if size > half:
      return 0
    n = (half - size) // step + 1
    return n + (1 if (n - 1) * step != half - size else 0)
  return count(shape[0]), count(shape[1])


def num_domains(shape: tuple[int, int], size: int, step: int) -> int:
  """Domain count of one level for a padded plane of `shape`."""
  ny, nx = domain_grid(shape, size, step)
  return ny * nx


@dataclasses.dataclass(frozen=True)
class LevelMatches:
  """Best transforms of all range blocks of one size, as [grid_h, grid_w] arrays.

  `err_full` and `err_dc` are squared errors summed over the block (block mean already
  quantised); blocks never searched have `active == False` and infinite errors.
  """

  size: int
  num_domains: int
  active: np.ndarray
  err_full: np.ndarray
  err_dc: np.ndarray
  s_idx: np.ndarray
  dc_idx: np.ndarray
  cand: np.ndarray
