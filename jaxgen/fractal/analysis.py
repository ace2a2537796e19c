"""Per-level search results for one plane: every candidate range block's best transform.

The quadtree and rate control only choose among these, so the expensive search runs once
per plane whatever the target ratio.
"""

import numpy as np

from jaxgen.fractal import isometries, matching, partition
from jaxgen.fractal.types import CoderParams, LevelMatches


def analyse(plane: np.ndarray, params: CoderParams, prune_error: float = 0.0,
            devices=None) -> list[LevelMatches]:
  """Searches every level of a padded plane [h, w] (grey levels 0..255), largest first.

  Args:
    prune_error: blocks whose best collage error (summed over the block) is at most this
      are never split, so their children are not searched. Splitting can remove at most
      that error while it adds at least three leaves, so with a Lagrange multiplier lam a
      bound of ~lam * (bits of three leaves) loses nothing; smaller values are safer.
  """
  q = params.quant
  half = partition.downsample2(plane)  # [h/2, w/2]
  out = []
  active = np.ones((plane.shape[0] // params.max_block, plane.shape[1] // params.max_block), bool)
  for b, step in zip(params.sizes, params.domain_steps):
    blocks = partition.range_blocks(plane, b).reshape(-1, b * b)  # [m, b*b] raster order
    mean = blocks.mean(axis=1)
    dc_idx = q.dc_index(mean)
    dc_err = b * b * (mean - q.dc_value(dc_idx)) ** 2  # the mean's own quantisation error
    centred2 = ((blocks - mean[:, None]) ** 2).sum(axis=1)
    flat_active = active.reshape(-1)
    pos = partition.domain_positions(half.shape, b, step)
    cand = np.zeros(len(blocks), np.int32)
    s_idx = np.zeros(len(blocks), np.int32)
    err = np.full(len(blocks), np.inf, np.float32)
    sel = np.nonzero(flat_active)[0]
    if len(pos) and sel.size:
      doms = partition.domain_blocks(half, pos, b)  # [d, b, b]
      cands = isometries.all_isometries(doms).reshape(-1, b * b)  # [8 * d, b*b]
      c, s, e = matching.match(blocks[sel], cands, q.s_step, q.s_levels, devices)
      cand[sel], s_idx[sel], err[sel] = c, s, e
    else:
      err[sel] = centred2[sel]
    err_dc = np.where(flat_active, centred2 + dc_err, np.inf)
    err_full = np.where(flat_active, np.minimum(err, centred2) + dc_err, np.inf)
    s_idx = np.where(err <= centred2, s_idx, 0)
    shape = active.shape
    out.append(LevelMatches(b, len(pos), active, err_full.reshape(shape), err_dc.reshape(shape),
                            s_idx.reshape(shape), dc_idx.reshape(shape), cand.reshape(shape)))
    # Children of well-approximated blocks are never searched.
    split = active & (err_full.reshape(shape) > prune_error)
    active = np.repeat(np.repeat(split, 2, axis=0), 2, axis=1)
  return out
