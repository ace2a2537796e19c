"""The transform stream of one plane: quadtree flags and per-leaf symbols, in Z order.

One traversal serves both directions, so the encoder and decoder cannot drift apart.
Per leaf: contrast index (adaptive, per level); block mean as a residual from the means
of already-coded neighbours above and left (adaptive Laplace, per level and local
activity); for s != 0 the isometry (adaptive) and the domain position: which of 8x8
coarse regions of the lattice (adaptive per level, since edge-rich regions supply most
domains) and the position inside it (flat).
"""

import numpy as np

from jaxgen.fractal import entropy
from jaxgen.fractal.errors import FicFormatError
from jaxgen.fractal.types import CoderParams, PlaneCode, domain_grid, padded_shape

_FIELDS = ("y", "x", "size", "s_idx", "dc_idx", "cand")


def _predict(dcmap: list[list[int]], cy: int, cx: int, n: int) -> tuple[int, int]:
  """Block-mean prediction and activity context from coded neighbours (min-block cells).

  `dcmap` holds block-mean indices per min-block cell as Python lists: per-leaf numpy
  slicing cost more than the arithmetic here.
  """
  above = dcmap[cy - 1][cx:cx + n] if cy > 0 else []
  left = [row[cx - 1] for row in dcmap[cy:cy + n]] if cx > 0 else []
  count = len(above) + len(left)
  if count == 0:
    return -1, 0
  sa, sl = sum(above), sum(left)
  pred = ((sa + sl) * 2 + count) // (2 * count)
  if above and left:
    # |mean above - mean left| in quantiser steps, in integers: a texture/edge indicator.
    diff = abs(sa * len(left) - sl * len(above))
    scale = len(above) * len(left)
    ctx = 0 if diff < scale else (1 if diff < 4 * scale else 2)
  else:
    ctx = 2
  return pred, ctx


_REGIONS = 8  # coarse domain regions per axis


def _code_domain(coder: entropy.SymbolCoder, model: entropy.AdaptiveCategorical,
                 grid: tuple[int, int], dom: int) -> int:
  """Codes a domain index as (coarse region, offset inside it); returns the index."""
  ny, nx = grid
  gy, gx = min(_REGIONS, ny), min(_REGIONS, nx)
  dy, dx = divmod(dom, nx)
  region = coder.categorical(model, (dy * gy // ny) * _REGIONS + dx * gx // nx)
  ry, rx = divmod(region, _REGIONS)
  if ry >= gy or rx >= gx:
    raise FicFormatError("corrupt .fic payload: domain region out of range")
  # Lattice rows whose region is ry: ceil(ry * ny / gy) .. ceil((ry + 1) * ny / gy) - 1.
  y0, y1 = -(-ry * ny // gy), -(-(ry + 1) * ny // gy)
  x0, x1 = -(-rx * nx // gx), -(-(rx + 1) * nx // gx)
  dy = y0 + coder.uniform(y1 - y0, dy - y0)
  dx = x0 + coder.uniform(x1 - x0, dx - x0)
  return dy * nx + dx


def code_plane(coder: entropy.SymbolCoder, params: CoderParams, height: int, width: int,
               plane: PlaneCode | None = None, bit_log: list | None = None) -> PlaneCode:
  """Encodes `plane` (encoder) or decodes one (decoder: `plane=None`) through `coder`.

  `bit_log`, if given, receives (size, kind, bits) per node, kind 0/1 for a DC-only/full
  leaf (bits include its flag) and 2 for a split node (its flag); rate control uses it.
  """
  sizes, q = params.sizes, params.quant
  shape = padded_shape(height, width, params.max_block)
  grids = [domain_grid(shape, b, s) for b, s in zip(sizes, params.domain_steps)]
  n_dom = [ny * nx for ny, nx in grids]
  region_models = [entropy.AdaptiveCategorical(_REGIONS * _REGIONS) for _ in sizes]
  m = params.min_block
  dcmap = [[0] * (shape[1] // m) for _ in range(shape[0] // m)]
  flags = [entropy.AdaptiveCategorical(2) for _ in sizes]
  s_models = [entropy.AdaptiveCategorical(2 * q.s_levels + 1) for _ in sizes]
  iso_model = entropy.AdaptiveCategorical(8)
  dc_models = [[entropy.AdaptiveLaplace(q.dc_levels - 1) for _ in range(3)] for _ in sizes]
  src = None if plane is None else [getattr(plane, f) for f in _FIELDS]
  out = {f: [] for f in _FIELDS}
  cursor = [0]

  def leaf(y, x, li):
    i = cursor[0]
    b = sizes[li]
    s = coder.categorical(s_models[li], 0 if src is None else int(src[3][i]) + q.s_levels)
    s -= q.s_levels
    pred, ctx = _predict(dcmap, y // m, x // m, b // m)
    pred = q.dc_levels // 2 if pred < 0 else pred
    dc = pred + coder.laplace(dc_models[li][ctx], 0 if src is None else int(src[4][i]) - pred)
    if not 0 <= dc < q.dc_levels:
      raise FicFormatError("corrupt .fic payload: block mean out of range")
    cand = 0
    if s != 0:
      if n_dom[li] == 0:
        raise FicFormatError("corrupt .fic payload: no domains at this block size")
      c = 0 if src is None else int(src[5][i])
      iso = coder.categorical(iso_model, c // n_dom[li])
      cand = iso * n_dom[li] + _code_domain(coder, region_models[li], grids[li], c % n_dom[li])
    for row in dcmap[y // m:(y + b) // m]:
      row[x // m:(x + b) // m] = [dc] * (b // m)
    for f, v in zip(_FIELDS, (y, x, b, s, dc, cand)):
      out[f].append(v)
    cursor[0] = i + 1

  def visit(y, x, li):
    start_bits = coder.bits
    split = 0
    if li + 1 < len(sizes):
      if src is not None:
        if cursor[0] >= len(src[0]):
          raise ValueError("plane code has fewer leaves than its quadtree needs")
        split = int(src[2][cursor[0]] < sizes[li])
      split = coder.categorical(flags[li], split)
    if bit_log is not None:
      bit_log.extend((sizes[li], 2, coder.bits - start_bits) if split else ())
    if split:
      h = sizes[li] // 2
      for dy, dx in ((0, 0), (0, h), (h, 0), (h, h)):
        visit(y + dy, x + dx, li + 1)
    else:
      leaf(y, x, li)
      if bit_log is not None:
        bit_log.extend((sizes[li], int(out["s_idx"][-1] != 0), coder.bits - start_bits))

  top = params.max_block
  for ty in range(0, shape[0], top):
    for tx in range(0, shape[1], top):
      visit(ty, tx, 0)
  arrays = {f: np.asarray(v, np.int32) for f, v in out.items()}
  return PlaneCode(height=height, width=width, **arrays)
