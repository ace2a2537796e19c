"""Decoding one plane: iterate the PIFS to its fixed point at any integer zoom factor.

The whole transform is precomputed as per-pixel maps (which half-size pixel feeds each
output pixel, and which leaf it belongs to), so one iteration is a 2x average, one gather,
a segment mean and an affine map: no Python loop over blocks.

It is numpy rather than jax.numpy on purpose: each iteration is a few memory-bound passes
(numpy takes 1.3-1.5x the time of the jitted jnp version it replaced: 38 against 30 ms
for camera at 30:1), while a decoder without jax starts much sooner: importing jax costs
~0.45 s and tracing or loading a kernel per image shape ~0.2 s more, which was most of a
command-line decompress.
"""

import numpy as np

from jaxgen.fractal import isometries, partition
from jaxgen.fractal.types import CoderParams, PlaneCode, num_domains, padded_shape


def pixel_maps(plane: PlaneCode, params: CoderParams, zoom: int) -> dict[str, np.ndarray]:
  """Per-pixel source index, leaf id, contrast, mean and leaf size at `zoom` x.

  Returns flat arrays of length (zoom * padded height) * (zoom * padded width).
  """
  ph, pw = padded_shape(plane.height, plane.width, params.max_block)
  h, w = ph * zoom, pw * zoom
  src = np.zeros(h * w, np.int32)
  leaf_id = np.zeros(h * w, np.int32)
  size_pix = np.zeros(h * w, np.int32)
  for b, step in zip(params.sizes, params.domain_steps):
    sel = np.nonzero(plane.size == b)[0]
    if sel.size == 0:
      continue
    kb = b * zoom
    pos = partition.domain_positions((ph // 2, pw // 2), b, step) * zoom  # [d, 2]
    nd = max(num_domains((ph, pw), b, step), 1)
    u = np.arange(kb * kb)
    out = (plane.y[sel, None] * zoom + u // kb) * w + plane.x[sel, None] * zoom + u % kb  # [l, kb*kb]
    if len(pos):
      iso = plane.cand[sel] // nd
      dom = pos[np.minimum(plane.cand[sel] % nd, len(pos) - 1)]  # [l, 2]
      p = isometries.permutations(kb)[np.minimum(iso, 7)]  # [l, kb*kb] source offsets
      src[out] = (dom[:, 0, None] + p // kb) * (w // 2) + dom[:, 1, None] + p % kb
    # else: no domain fits the plane at this size, so these leaves are DC-only (the stream
    # refuses s != 0 there) and their source stays pixel 0, weighted by s = 0.
    leaf_id[out] = sel[:, None]
    size_pix[out] = kb
  return {"src": src, "leaf": leaf_id, "size": size_pix, "shape": np.array([h, w])}


def _iterate(start: np.ndarray, src: np.ndarray, leaf: np.ndarray, s_leaf: np.ndarray,
             dc_leaf: np.ndarray, shape: tuple[int, int], iterations: int,
             tol: float) -> np.ndarray:
  """Applies the PIFS from `start` [h*w] until the max change <= tol or `iterations`."""
  h, w = shape
  inv_count = 1.0 / np.maximum(np.bincount(leaf, minlength=len(s_leaf)), 1)  # [leaves]
  s_pix, dc_pix = s_leaf[leaf], dc_leaf[leaf]  # [h*w]
  x = start
  for _ in range(iterations):
    q = x.reshape(h // 2, 2, w // 2, 2)
    half = ((q[:, 0, :, 0] + q[:, 0, :, 1]) + (q[:, 1, :, 0] + q[:, 1, :, 1])) * 0.25
    d = half.reshape(-1)[src]  # [h*w]: each pixel's source in the half-size image
    d_mean = np.bincount(leaf, weights=d, minlength=len(s_leaf)) * inv_count  # [leaves]
    y = (s_pix * (d - d_mean[leaf].astype(np.float32)) + dc_pix).astype(np.float32)
    delta = np.abs(y - x).max()
    x = y
    if delta <= tol:
      break
  return x


def deblock(x: np.ndarray, size_pix: np.ndarray, shape: tuple[int, int],
            strength: float = 1.0) -> np.ndarray:
  """Smooths across range-block borders, more widely for larger blocks.

  A pixel within `size / 16` of its block's border along an axis is mixed with a
  [1, 2, 1] / 4 filter along that axis (half as much in blocks under 8 pixels, whose
  seams are faint); blocks stay untouched inside. The strength was confirmed on the
  tuning photographs (`experiments/bench/fractal_tune.py`).
  """
  h, w = shape
  x = x.reshape(h, w)
  size = size_pix.reshape(h, w)
  band = size.astype(np.float32) / 16.0  # pixels from the border that get smoothed
  scale = np.float32(strength) * np.clip(2.0 * band, 0.5, 1.0)
  for axis, pos in ((1, np.arange(w)[None, :]), (0, np.arange(h)[:, None])):
    off = pos % size  # position inside the block along this axis
    dist = np.minimum(off, size - 1 - off)  # distance to the nearest border
    weight = scale * np.clip(band - dist, 0.0, 1.0)
    padded = np.pad(x, [(1, 1) if a == axis else (0, 0) for a in range(2)], mode="edge")
    prev = padded[:, :-2] if axis == 1 else padded[:-2]
    nxt = padded[:, 2:] if axis == 1 else padded[2:]
    x = (x + weight * (0.25 * prev + 0.25 * nxt - 0.5 * x)).astype(np.float32)
  return x.reshape(-1)


def decode_plane(plane: PlaneCode, params: CoderParams, zoom: int = 1, iterations: int = 32,
                 tol: float = 0.05, smooth: float = 1.0,
                 start: np.ndarray | None = None) -> np.ndarray:
  """Fixed point of the plane's PIFS at `zoom` x, cropped: float32 [zoom*h, zoom*w].

  Args:
    start: optional start image [zoom*padded h, zoom*padded w]; default the block means,
      which is already close to the attractor, so fewer iterations are needed.
    smooth: deblocking strength (0 disables it).
  """
  maps = pixel_maps(plane, params, zoom)
  h, w = (int(v) for v in maps["shape"])
  s_leaf = params.quant.s_value(plane.s_idx)  # [leaves] float32
  dc_leaf = params.quant.dc_value(plane.dc_idx)  # [leaves] float32
  x0 = dc_leaf[maps["leaf"]] if start is None else np.asarray(start, np.float32).reshape(-1)
  x = _iterate(x0, maps["src"], maps["leaf"], s_leaf, dc_leaf, (h, w), iterations, tol)
  if smooth > 0:
    x = deblock(x, maps["size"], (h, w), smooth)
  return x.reshape(h, w)[:plane.height * zoom, :plane.width * zoom]
