"""Box-counting and information dimension of binary or grey images.

Both fit a line over box sizes s = base**k: the box-counting (capacity) dimension is the
slope of log N(s) against log(1/s), N the number of boxes holding any of the set; the
information dimension (Renyi order 1, cf. Zmeskal et al. 2013) is the slope of the
entropy H(s) = -sum p_i log p_i of the mass in each box. For self-similar sets with
equal weights (Sierpinski triangle and carpet) both equal log(copies) / log(1/ratio).
"""

import numpy as np


def _mask_and_mass(image: np.ndarray, threshold: float | None) -> tuple[np.ndarray, np.ndarray]:
  """Binary set and non-negative mass from a binary or grey [h, w] image.

  Grey images are binarised at `threshold` (default: their mean) for counting; the mass
  is the grey level inside the set, so bright parts weigh more in the entropy.
  """
  img = np.asarray(image, np.float64)
  if img.ndim == 3:
    img = img.mean(axis=-1)
  if img.ndim != 2 or img.size == 0:
    raise ValueError(f"expected a non-empty [h, w] image, got shape {np.shape(image)}")
  binary = np.isin(np.unique(img), (0, 1)).all() if img.size else True
  t = 0.5 if binary else (img.mean() if threshold is None else threshold)
  mask = img > t
  if not mask.any():
    raise ValueError("the image holds no foreground pixels")
  mass = np.where(mask, img if not binary else 1.0, 0.0)
  return mask, mass


def _box_sums(a: np.ndarray, s: int) -> np.ndarray:
  """Sums over s x s boxes, zero-padding the image to whole boxes: [ceil(h/s), ceil(w/s)]."""
  h, w = a.shape
  p = np.pad(a, ((0, -h % s), (0, -w % s)))
  return p.reshape(p.shape[0] // s, s, p.shape[1] // s, s).sum(axis=(1, 3))


def _sizes(shape: tuple[int, int], base: int, min_size: int, max_fraction: float) -> np.ndarray:
  """Box sizes base**k from `min_size` up to `max_fraction` of the shorter side."""
  sizes = []
  s = min_size
  while s <= max_fraction * min(shape):
    sizes.append(s)
    s *= base
  if len(sizes) < 2:
    raise ValueError(f"image {shape} too small for box sizes of base {base}")
  return np.array(sizes)


def box_counting_dimension(image: np.ndarray, base: int = 2, min_size: int = 1,
                           max_fraction: float = 0.25, threshold: float | None = None) -> float:
  """Capacity dimension: slope of log N(s) vs log(1/s) over box sizes base**k."""
  mask, _ = _mask_and_mass(image, threshold)
  sizes = _sizes(mask.shape, base, min_size, max_fraction)
  counts = [np.count_nonzero(_box_sums(mask.astype(np.int64), int(s))) for s in sizes]
  return float(np.polyfit(-np.log(sizes), np.log(counts), 1)[0])


def information_dimension(image: np.ndarray, base: int = 2, min_size: int = 1,
                          max_fraction: float = 0.25, threshold: float | None = None) -> float:
  """Information dimension: slope of the box-mass entropy H(s) vs log(1/s)."""
  _, mass = _mask_and_mass(image, threshold)
  sizes = _sizes(mass.shape, base, min_size, max_fraction)
  entropies = []
  for s in sizes:
    p = _box_sums(mass, int(s)).ravel()
    p = p[p > 0] / p.sum()
    entropies.append(float(-(p * np.log(p)).sum()))
  return float(np.polyfit(-np.log(sizes), entropies, 1)[0])
