"""What a handwritten digit looks like, measured from its pixels (issue 38): stroke thickness,
slant and size, each put in one of three buckets whose edges are the training digits' terciles.

The same functions caption the training digits (jaxgen/latent/captions.py) and score generated
ones: property adherence is the share of samples whose measured bucket is the one the prompt
asked for.

- thickness: ink area over skeleton length, the mean stroke width in pixels (binarised at 0.5);
- slant: the ink's shear from its second moments, columns per row going up (positive: the top
  leans right; rows grow downwards, so it is -cov(column, row) / var(row));
- size: the area of the ink's bounding box in pixels (MNIST scales every digit to a height of
  20 pixels, so height alone hardly varies; the area still follows the digit's shape: a 1 is
  narrow).
"""

import dataclasses

import numpy as np
import skimage.morphology

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


def measure(images: np.ndarray) -> dict[str, np.ndarray]:
  """{"thickness", "slant", "size"} -> [n] each, for images [n, h, w(, 1)] (ink bright on dark)."""
  x = _as_unit(images)
  ink = x > 0.5  # [n, h, w]
  area = ink.sum(axis=(1, 2))
  # The one-pixel-wide skeleton's pixels: the strokes' length.
  skeleton = np.array([int(np.sum(skimage.morphology.skeletonize(i))) for i in ink])
  rows = np.arange(x.shape[1], dtype=np.float64)[None, :, None]  # [1, h, 1]
  cols = np.arange(x.shape[2], dtype=np.float64)[None, None, :]  # [1, 1, w]
  mass = x.sum(axis=(1, 2)) + 1e-12
  mean_r = (x * rows).sum(axis=(1, 2)) / mass
  mean_c = (x * cols).sum(axis=(1, 2)) / mass
  dr = rows - mean_r[:, None, None]
  dc = cols - mean_c[:, None, None]
  var_r = (x * dr ** 2).sum(axis=(1, 2)) / mass
  cov_rc = (x * dr * dc).sum(axis=(1, 2)) / mass
  inked_rows = ink.any(axis=2)  # [n, h]
  top = np.argmax(inked_rows, axis=1)
  bottom = x.shape[1] - 1 - np.argmax(inked_rows[:, ::-1], axis=1)
  inked_cols = ink.any(axis=1)  # [n, w]
  left = np.argmax(inked_cols, axis=1)
  right = x.shape[2] - 1 - np.argmax(inked_cols[:, ::-1], axis=1)
  size = np.where(inked_rows.any(axis=1), (bottom - top + 1) * (right - left + 1), 0)
  return {"thickness": area / np.maximum(skeleton, 1),
          "slant": -cov_rc / np.maximum(var_r, 1e-12),
          "size": size.astype(np.float64)}


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
