"""Decoding one plane: iterate the PIFS to its fixed point at any integer zoom factor.

The whole transform is precomputed as per-pixel maps (which half-size pixel feeds each
output pixel, and which leaf it belongs to), so one iteration is a 2x average, one gather,
a segment mean and an affine map: no Python loop over blocks, jitted once per shape.
"""

import functools

import jax
import jax.numpy as jnp
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
    iso = plane.cand[sel] // nd
    dom = pos[np.minimum(plane.cand[sel] % nd, len(pos) - 1)] if len(pos) else np.zeros((sel.size, 2), int)
    u = np.arange(kb * kb)
    out = (plane.y[sel, None] * zoom + u // kb) * w + plane.x[sel, None] * zoom + u % kb  # [l, kb*kb]
    p = isometries.permutations(kb)[np.minimum(iso, 7)]  # [l, kb*kb] source offsets
    src[out] = (dom[:, 0, None] + p // kb) * (w // 2) + dom[:, 1, None] + p % kb
    leaf_id[out] = sel[:, None]
    size_pix[out] = kb
  return {"src": src, "leaf": leaf_id, "size": size_pix, "shape": np.array([h, w])}


@functools.partial(jax.jit, static_argnames=("shape", "num_leaves", "iterations"))
def _iterate(start, src, leaf, s_leaf, dc_leaf, shape, num_leaves, iterations, tol):
  """Applies the PIFS from `start` [h*w] until the max change < tol or `iterations`."""
  h, w = shape
  count = jax.ops.segment_sum(jnp.ones_like(start), leaf, num_leaves)  # [leaves]
  s_pix, dc_pix = s_leaf[leaf], dc_leaf[leaf]  # [h*w]

  def apply(x):  # x: [h*w]
    half = x.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3)).reshape(-1)  # [h*w/4]
    d = half[src]  # [h*w]
    d_mean = jax.ops.segment_sum(d, leaf, num_leaves) / jnp.maximum(count, 1.0)  # [leaves]
    return s_pix * (d - d_mean[leaf]) + dc_pix

  def cond(state):
    i, _, delta = state
    return (i < iterations) & (delta > tol)

  def body(state):
    i, x, _ = state
    y = apply(x)
    return i + 1, y, jnp.max(jnp.abs(y - x))

  _, x, _ = jax.lax.while_loop(cond, body, (0, start, jnp.float32(jnp.inf)))
  return x


@functools.partial(jax.jit, static_argnames=("shape",))
def deblock(x, size_pix, shape, strength=1.0):
  """Smooths across range-block borders, more widely for larger blocks.

  A pixel within `size / 16` of its block's border along an axis is mixed with a
  [1, 2, 1] / 4 filter along that axis (half as much in blocks under 8 pixels, whose
  seams are faint); blocks stay untouched inside. Tuned on camera and astronaut.
  """
  h, w = shape
  x = x.reshape(h, w)
  size = size_pix.reshape(h, w).astype(jnp.float32)
  cols = jnp.arange(w)[None, :] % size.astype(jnp.int32)
  rows = jnp.arange(h)[:, None] % size.astype(jnp.int32)
  band = size / 16.0  # pixels from the border that get smoothed: 2 in 32x32 blocks
  for axis, off in ((1, cols), (0, rows)):
    dist = jnp.minimum(off, size - 1 - off)  # distance to the nearest border
    weight = strength * jnp.clip(band - dist, 0.0, 1.0) * jnp.clip(2.0 * band, 0.5, 1.0)
    padded = jnp.pad(x, [(1, 1) if a == axis else (0, 0) for a in range(2)], mode="edge")
    prev = jax.lax.slice_in_dim(padded, 0, padded.shape[axis] - 2, axis=axis)
    nxt = jax.lax.slice_in_dim(padded, 2, padded.shape[axis], axis=axis)
    x = x + weight * (0.25 * prev + 0.25 * nxt - 0.5 * x)
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
  n = len(plane.size)
  bucket = 1 << max(int(n - 1).bit_length(), 4)  # fewer recompiles across images
  s_leaf = np.zeros(bucket, np.float32)
  dc_leaf = np.zeros(bucket, np.float32)
  s_leaf[:n] = params.quant.s_value(plane.s_idx)
  dc_leaf[:n] = params.quant.dc_value(plane.dc_idx)
  x0 = dc_leaf[maps["leaf"]] if start is None else np.asarray(start, np.float32).reshape(-1)
  x = _iterate(jnp.asarray(x0), maps["src"], maps["leaf"], s_leaf, dc_leaf, (h, w), bucket,
               iterations, tol)
  if smooth > 0:
    x = deblock(x, maps["size"], (h, w), smooth)
  return np.asarray(x).reshape(h, w)[:plane.height * zoom, :plane.width * zoom]
