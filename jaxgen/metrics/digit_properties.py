"""What a handwritten digit looks like, measured from its pixels (issue 38): stroke thickness,
slant and size, each put in one of three buckets whose edges are the training digits' terciles.

The same functions caption the training digits (jaxgen/latent/captions.py) and score generated
ones: property adherence is the share of samples whose measured bucket is the one the prompt
asked for.

- thickness: the mean stroke width w in pixels (binarised at 0.5) from the ink's area A and its
  skeleton's length L (Zhang and Suen's thinning): A = w (L + w), since thinning leaves about
  half a width off each end of a stroke;
- slant: the ink's shear from its second moments, columns per row going up (positive: the top
  leans right; rows grow downwards, so it is -cov(column, row) / var(row));
- size: the area of the ink's bounding box in pixels (MNIST scales every digit to a height of
  20 pixels, so height alone hardly varies; the area still follows the digit's shape: a 1 is
  narrow).
"""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from jaxgen.errors import UserError
from jaxgen.metrics.intervals import wilson_interval

PROPERTIES = ("thickness", "slant", "size")
# Bucket 0, 1, 2 of each property in words; None: the middle bucket has no word (a caption
# says nothing about an ordinary thickness or size).
BUCKET_WORDS = {"thickness": ("thin", None, "bold"),
                "slant": ("slanted left", "upright", "slanted right"),
                "size": ("small", None, "large")}


def _as_unit(images: np.ndarray) -> np.ndarray:
  """images [n, h, w(, 1)] uint8 or floats in [0, 1] -> float64 [n, h, w] in [0, 1]."""
  x = np.asarray(images)
  x = x.astype(np.float64) / 255.0 if x.dtype == np.uint8 else x.astype(np.float64)
  if x.ndim == 4:
    if x.shape[-1] != 1:
      raise UserError(f"digit properties are measured on one-channel images, got {x.shape}")
    x = x[..., 0]
  if x.ndim != 3:
    raise UserError(f"digit properties need images [n, h, w(, 1)], got shape {x.shape}")
  return x


def _neighbours(x: jax.Array) -> list[jax.Array]:
  """The 8 neighbours of every pixel of x [n, h, w], clockwise from the one above (Zhang and
  Suen's P2..P9), zero outside the image."""
  h, w = x.shape[1:]
  p = jnp.pad(x, ((0, 0), (1, 1), (1, 1)))
  return [p[:, 0:h, 1:w + 1], p[:, 0:h, 2:], p[:, 1:h + 1, 2:], p[:, 2:, 2:],
          p[:, 2:, 1:w + 1], p[:, 2:, 0:w], p[:, 1:h + 1, 0:w], p[:, 0:h, 0:w]]


def _thinning_pass(x: jax.Array, first: bool) -> jax.Array:
  """One of Zhang and Suen's two sub-iterations on binary x [n, h, w] (int32 0/1): removes the
  border pixels whose removal keeps the shape connected (one 0->1 transition around them), that
  are not line ends (2..6 neighbours), on the south-east (first) or north-west side."""
  n = _neighbours(x)
  count = sum(n)
  transitions = sum((n[i] == 0) & (n[(i + 1) % 8] == 1) for i in range(8))
  p2, p4, p6, p8 = n[0], n[2], n[4], n[6]
  side = ((p2 * p4 * p6 == 0) & (p4 * p6 * p8 == 0)) if first else \
      ((p2 * p4 * p8 == 0) & (p2 * p6 * p8 == 0))
  remove = (x == 1) & (count >= 2) & (count <= 6) & (transitions == 1) & side
  return jnp.where(remove, 0, x)


def skeleton(ink: jax.Array) -> jax.Array:
  """The one-pixel-wide skeleton [n, h, w] (int32 0/1) of binary ink [n, h, w], by Zhang and
  Suen's thinning (1984) run until nothing changes."""
  def body(carry):
    x, _ = carry
    thinner = _thinning_pass(_thinning_pass(x, True), False)
    return thinner, jnp.any(thinner != x)

  x, _ = jax.lax.while_loop(lambda c: c[1], body, (ink.astype(jnp.int32), jnp.array(True)))
  return x


@jax.jit
def measure_jax(x: jax.Array) -> dict[str, jax.Array]:
  """{"thickness", "slant", "size"} -> [n] float32 each, for images x [n, h, w] in [0, 1] (ink
  bright on dark); jittable, so a train step can caption the digits it is given."""
  x = x.astype(jnp.float32)
  ink = x > 0.5  # [n, h, w]
  area = ink.sum(axis=(1, 2)).astype(jnp.float32)
  length = skeleton(ink).sum(axis=(1, 2)).astype(jnp.float32)  # the strokes' length
  rows = jnp.arange(x.shape[1], dtype=jnp.float32)[None, :, None]  # [1, h, 1]
  cols = jnp.arange(x.shape[2], dtype=jnp.float32)[None, None, :]  # [1, 1, w]
  mass = x.sum(axis=(1, 2)) + 1e-12
  dr = rows - ((x * rows).sum(axis=(1, 2)) / mass)[:, None, None]
  dc = cols - ((x * cols).sum(axis=(1, 2)) / mass)[:, None, None]
  var_r = (x * dr ** 2).sum(axis=(1, 2)) / mass
  cov_rc = (x * dr * dc).sum(axis=(1, 2)) / mass
  inked_rows, inked_cols = ink.any(axis=2), ink.any(axis=1)  # [n, h], [n, w]
  top, left = jnp.argmax(inked_rows, axis=1), jnp.argmax(inked_cols, axis=1)
  bottom = x.shape[1] - 1 - jnp.argmax(inked_rows[:, ::-1], axis=1)
  right = x.shape[2] - 1 - jnp.argmax(inked_cols[:, ::-1], axis=1)
  size = jnp.where(inked_rows.any(axis=1), (bottom - top + 1) * (right - left + 1), 0)
  # Area = width x (length + width): thinning leaves about half a width off each stroke end.
  return {"thickness": (jnp.sqrt(length ** 2 + 4.0 * area) - length) / 2.0,
          "slant": -cov_rc / jnp.maximum(var_r, 1e-12),
          "size": size.astype(jnp.float32)}


def measure(images: np.ndarray, chunk: int = 2048) -> dict[str, np.ndarray]:
  """{"thickness", "slant", "size"} -> [n] each, for images [n, h, w(, 1)] (ink bright on dark),
  measured `chunk` images at a time by measure_jax."""
  x = _as_unit(images).astype(np.float32)
  parts = [jax.device_get(measure_jax(jnp.asarray(x[i:i + chunk])))
           for i in range(0, len(x), chunk)] or [jax.device_get(measure_jax(jnp.asarray(x)))]
  return {p: np.concatenate([np.asarray(part[p], np.float64) for part in parts])
          for p in PROPERTIES}


@dataclasses.dataclass(frozen=True)
class Buckets:
  """Each property's two edges (its training terciles): below the first is bucket 0, above the
  second bucket 2, between them bucket 1."""

  edges: dict[str, tuple[float, float]]

  @classmethod
  def from_images(cls, images: np.ndarray) -> "Buckets":
    """Edges at the terciles of the measured `images` (the training digits)."""
    values = measure(images)
    return cls({p: tuple(float(q) for q in np.quantile(values[p], (1 / 3, 2 / 3)))
                for p in PROPERTIES})

  def of(self, values: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Measured values -> bucket indices [n] (0, 1, 2) per property."""
    return {p: np.searchsorted(np.asarray(self.edges[p]), values[p], side="right")
            for p in PROPERTIES}

  def as_array(self) -> np.ndarray:
    """The edges as float32 [3, 2], one row per property in PROPERTIES' order."""
    return np.array([self.edges[p] for p in PROPERTIES], np.float32)


def buckets_jax(values: dict[str, jax.Array], edges: jax.Array) -> jax.Array:
  """Bucket indices int32 [n, 3] (PROPERTIES' order) of measured values, given edges [3, 2]
  (Buckets.as_array): the number of a property's edges at or below its value, as Buckets.of."""
  stacked = jnp.stack([values[p] for p in PROPERTIES], axis=1)  # [n, 3]
  return jnp.sum(stacked[:, :, None] >= edges[None], axis=2).astype(jnp.int32)


def adherence(images: np.ndarray, asked: dict[str, np.ndarray],
              buckets: Buckets) -> dict[str, dict[str, float]]:
  """Per property, the share of `images` whose measured bucket is the one `asked` [n] (-1:
  the prompt did not say), with its Wilson interval and how many were asked."""
  measured = buckets.of(measure(images))
  out = {}
  for p, wanted in asked.items():
    wanted = np.asarray(wanted)
    said = wanted >= 0
    hits, n = int(np.sum(measured[p][said] == wanted[said])), int(said.sum())
    if n:
      low, high = wilson_interval(hits, n)
      out[p] = {"adherence": hits / n, "ci95_low": low, "ci95_high": high, "asked": n}
  return out
