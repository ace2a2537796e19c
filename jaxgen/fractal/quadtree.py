"""Choosing the quadtree: rate-distortion pruning (ratio mode) or Fisher's tolerance rule.

Both work on the `LevelMatches` grids; the chosen tree is returned as leaves in Z order,
the order of the transform stream.
"""

import numpy as np

from jaxgen.fractal.types import LevelMatches
from jaxgen.fractal.types import PlaneCode


def rd_split(levels: list[LevelMatches], lam: float, rates: np.ndarray):
  """Bottom-up pruning minimising distortion + lam * bits.

  Args:
    rates: [num_levels, 3] estimated bits of (split node's flag, DC-only leaf, full leaf)
      per level; leaf figures include the leaf's own flag.
  Returns:
    (split grids per level, use_full grids per level, estimated total bits, distortion).
  """
  splits, fulls = [], []
  cost = bits = dist = None
  for li in range(len(levels) - 1, -1, -1):
    lv = levels[li]
    c_dc = lv.err_dc + lam * rates[li, 1]
    c_full = np.where(lv.s_idx != 0, lv.err_full + lam * rates[li, 2], np.inf)
    full = c_full < c_dc
    leaf_cost = np.minimum(c_dc, c_full)
    leaf_bits = np.where(full, rates[li, 2], rates[li, 1])
    leaf_dist = np.where(full, lv.err_full, lv.err_dc)
    if cost is None:
      split = np.zeros_like(lv.active)
    else:
      gh, gw = lv.active.shape
      fold = lambda a: a.reshape(gh, 2, gw, 2).sum(axis=(1, 3))
      child = fold(cost) + lam * rates[li, 0]  # the split flag is paid by split nodes only
      split = lv.active & (child < leaf_cost)
      leaf_cost = np.where(split, child, leaf_cost)
      leaf_bits = np.where(split, fold(bits) + rates[li, 0], leaf_bits)
      leaf_dist = np.where(split, fold(dist), leaf_dist)
    cost, bits, dist = leaf_cost, leaf_bits, leaf_dist
    splits.insert(0, split)
    fulls.insert(0, full)
  return splits, fulls, float(bits.sum()), float(dist.sum())


def tolerance_split(levels: list[LevelMatches], tolerance: float):
  """Fisher's rule: split while the best block's RMS collage error exceeds `tolerance`."""
  splits, fulls = [], []
  for li, lv in enumerate(levels):
    n = lv.size * lv.size
    last = li + 1 == len(levels)
    split = np.zeros_like(lv.active) if last else lv.active & (lv.err_full > tolerance ** 2 * n)
    if not last:
      nxt = levels[li + 1].active
      gh, gw = lv.active.shape
      split &= nxt.reshape(gh, 2, gw, 2).all(axis=(1, 3))
    splits.append(split)
    fulls.append((lv.s_idx != 0) & (lv.err_dc > tolerance ** 2 * n))
  return splits, fulls


def leaves(levels: list[LevelMatches], splits, fulls, height: int, width: int) -> PlaneCode:
  """Collects the chosen leaves in Z order (top tiles in raster order) as a `PlaneCode`."""
  rows = []

  def visit(li, gy, gx):
    lv = levels[li]
    if splits[li][gy, gx]:
      for dy, dx in ((0, 0), (0, 1), (1, 0), (1, 1)):
        visit(li + 1, 2 * gy + dy, 2 * gx + dx)
      return
    full = bool(fulls[li][gy, gx])
    rows.append((gy * lv.size, gx * lv.size, lv.size, lv.s_idx[gy, gx] if full else 0,
                 lv.dc_idx[gy, gx], lv.cand[gy, gx] if full else 0))

  gh, gw = levels[0].active.shape
  for gy in range(gh):
    for gx in range(gw):
      visit(0, gy, gx)
  cols = np.asarray(rows, np.int64).reshape(-1, 6).T.astype(np.int32)
  return PlaneCode(height, width, *cols)
