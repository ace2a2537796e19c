"""Generalised (Renyi) dimensions D_q of binary sets and grey measures in images.

`image_measure` turns an image into a mass on its pixels: a binary set (pixels above a
threshold, or at or below it for dark-on-light drawings) or the grey levels themselves.
Covering it with boxes of side eps = base**k pixels gives box probabilities p_i(eps); the
Renyi entropy H_q(eps) = log(sum_i p_i^q) / (1 - q) (Shannon, -sum p log p, at q = 1) grows
like D_q log(1/eps), and `generalised_dimensions` fits that slope (Hentschel & Procaccia
1983). D_0 is the box-counting dimension, D_1 the information dimension and D_2 the
correlation dimension. D_q never increases with q; it is the same for every q on
self-similar sets with equal weights (Sierpinski triangle: log 3 / log 2) and varies on
multifractal measures (multiplicative cascades).

Caveat: boxes are anchored at the top-left corner, so where a side is not a multiple of eps
the last row or column of boxes lies partly outside the image and holds too little mass.
Negative q weigh the sparsest boxes most and are biased by these; sides that are powers of
`base` tile exactly.
"""

import dataclasses
from collections.abc import Sequence
from typing import Literal

import numpy as np

Mode = Literal["set", "measure"]


def _grey(image: np.ndarray) -> np.ndarray:
  """A float64 [h, w] copy of a grey [h, w] or colour [h, w, c] image (alpha ignored)."""
  img = np.asarray(image, np.float64)  # float64 so float measures keep their precision
  if img.ndim == 3 and img.shape[-1] in (1, 2, 3, 4):
    img = img[..., :3].mean(axis=-1) if img.shape[-1] >= 3 else img[..., 0]
  if img.ndim != 2 or img.size == 0:
    raise ValueError(f"expected a non-empty [h, w] or [h, w, c] image, got shape {np.shape(image)}")
  if not np.isfinite(img).all():
    raise ValueError("the image holds NaN or infinite values")
  return img


def _white(img: np.ndarray) -> float:
  """The white level: 1 for images in [0, 1] (binary 0/1, float), 255 for 8-bit, else 65535."""
  top = img.max()
  return 1.0 if top <= 1 else 255.0 if top <= 255 else 65535.0


def _measure(image: np.ndarray, mode: Mode, threshold: float | None,
             invert: bool) -> tuple[np.ndarray, float | None]:
  """`image_measure` and the threshold it used (None for a grey measure)."""
  img = _grey(image)
  white = _white(img)
  if mode == "measure":
    if threshold is not None:  # a measure uses every grey level; a cut-off would be a set
      raise ValueError("a threshold only applies to a set, not to a grey measure (--measure)")
    mass = white - img if invert else img
    if mass.min() < 0:
      raise ValueError(f"a grey measure must be non-negative, the image goes down to {img.min():g}")
    if not mass.sum() > 0:
      raise ValueError(f"the image has no mass (it is all {'white' if invert else 'black'}); "
                       f"try {'without ' if invert else ''}--invert")
    return mass, None
  if mode != "set":
    raise ValueError(f"mode must be 'set' or 'measure', got {mode!r}")
  t = white / 2 if threshold is None else float(threshold)
  mask = img <= t if invert else img > t
  where = "at or below" if invert else "above"
  if not mask.any():
    raise ValueError(f"no pixels {where} threshold {t:g}; try "
                     + ("without --invert or a higher --threshold" if invert
                        else "--invert or a lower --threshold"))
  if mask.all():  # a blank page is no set either: nothing tells figure from ground
    raise ValueError(f"every pixel is {where} threshold {t:g}, the set fills the image; try "
                     + ("without --invert or a lower --threshold" if invert
                        else "--invert or a higher --threshold"))
  return mask.astype(np.float64), t


def image_measure(image: np.ndarray, mode: Mode = "set", threshold: float | None = None,
                  invert: bool = False) -> np.ndarray:
  """The non-negative float64 [h, w] mass that an image puts on its pixels.

  mode="set": 1 on the set, 0 elsewhere. The set is the pixels > `threshold`, or <= it with
    `invert` (dark-on-light drawings). The default threshold is half the white level (1 for
    images in [0, 1], 255 for 8-bit ones, 65535 above), so a binary 0/1 or 0/255 image uses
    its bright pixels unless inverted. An empty set or one that fills the image (a blank
    page) is a ValueError that says which option to change.
  mode="measure": the grey level itself (white - grey with `invert`), in float64 so that a
    float image keeps its precision; zero mass is a ValueError.
  Colour images are averaged over their channels (alpha is ignored).
  """
  return _measure(image, mode, threshold, invert)[0]


def _box_masses(mass: np.ndarray, base: int, levels: int) -> list[np.ndarray]:
  """Masses in boxes of side base**k for k < levels, boxes anchored at the top-left corner.

  Each level sums base x base blocks of the one below (one pass over the pixels in all),
  zero-padding the last row and column of boxes where a side is not a multiple of base.
  """
  out = [mass]
  for _ in range(1, levels):
    a = out[-1]
    a = np.pad(a, ((0, -a.shape[0] % base), (0, -a.shape[1] % base)))
    out.append(a.reshape(a.shape[0] // base, base, a.shape[1] // base, base).sum(axis=(1, 3)))
  return out


def renyi_entropy(p: np.ndarray, q: Sequence[float] | np.ndarray) -> np.ndarray:
  """Renyi entropies H_q = log(sum_i p_i^q) / (1 - q) in nats of masses p, one per order q.

  p is normalised to sum 1, and only p_i > 0 count (the support: 0^q is not defined for
  q <= 0); q = 1 is the Shannon entropy -sum p log p, q = 0 the log of the support size.
  """
  p = np.asarray(p, np.float64).ravel()
  p = p[p > 0]
  if p.size == 0:
    raise ValueError("renyi_entropy of an all-zero mass")
  p = p / p.sum()
  logp = np.log(p)
  qs = np.atleast_1d(np.asarray(q, np.float64))
  out = np.empty(qs.shape)
  for j, qj in enumerate(qs):  # one order at a time keeps memory at one array of boxes
    if abs(qj - 1) < 1e-9:  # the q -> 1 limit; the general formula is 0 / 0 there
      out[j] = -(p * logp).sum()
    else:  # log-sum-exp: p^q of sparse boxes overflows for large negative q
      z = qj * logp
      top = z.max()
      out[j] = (top + np.log(np.exp(z - top).sum())) / (1 - qj)
  return out


@dataclasses.dataclass(frozen=True, eq=False)
class GeneralisedDimensions:
  """D_q of one image, the straight-line fits behind them, and the data to plot them.

  q, dimensions, intercepts, r2, stderr: [nq] orders, fitted slopes D_q, fitted intercepts,
    coefficient of determination of each fit, standard error of each slope (NaN when the fit
    has only two box sizes).
  sizes, log_inv_eps: [n] every box side computed (base**k pixels up to the shorter image
    side) and log(1/eps) with eps the box side in pixels.
  entropies: [nq, n] H_q(eps) in nats. fit: [n] bool, the box sizes inside the fitted range.
  mode, threshold, invert: how the image was read (threshold None for a grey measure).
  """

  q: np.ndarray
  dimensions: np.ndarray
  intercepts: np.ndarray
  r2: np.ndarray
  stderr: np.ndarray
  sizes: np.ndarray
  log_inv_eps: np.ndarray
  entropies: np.ndarray
  fit: np.ndarray
  mode: Mode
  threshold: float | None
  invert: bool

  @property
  def fit_sizes(self) -> np.ndarray:
    """The box sides (pixels) the slopes were fitted over."""
    return self.sizes[self.fit]

  def dimension(self, q: float) -> float:
    """D_q at one of the computed orders q."""
    hit = np.flatnonzero(np.isclose(self.q, q))
    if hit.size == 0:
      raise KeyError(f"q = {q} was not computed (have {self.q.tolist()})")
    return float(self.dimensions[hit[0]])


def _fit_lines(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, ...]:
  """Least-squares lines y[j] ~ a[j] + b[j] x for all rows at once: (b, a, R^2, stderr of b)."""
  n = x.size
  dx = x - x.mean()
  dy = y - y.mean(axis=1, keepdims=True)
  sxx = dx @ dx
  slope = dy @ dx / sxx
  intercept = y.mean(axis=1) - slope * x.mean()
  ss_res = ((dy - slope[:, None] * dx) ** 2).sum(axis=1)
  ss_tot = (dy ** 2).sum(axis=1)
  # A flat H_q (D_q = 0: a single point) is fitted exactly; ss_res <= ss_tot always.
  r2 = np.where(ss_tot > 0, 1 - ss_res / np.where(ss_tot > 0, ss_tot, 1), 1.0)
  stderr = np.sqrt(ss_res / (n - 2) / sxx) if n > 2 else np.full(slope.shape, np.nan)
  return slope, intercept, r2, stderr


def generalised_dimensions(image: np.ndarray, q: Sequence[float] | np.ndarray = (0.0, 1.0, 2.0),
                           *, mode: Mode = "set", threshold: float | None = None,
                           invert: bool = False, base: int = 2, min_size: int = 1,
                           max_size: int | None = None,
                           max_fraction: float = 0.25) -> GeneralisedDimensions:
  """Generalised dimensions D_q: slopes of H_q(eps) against log(1/eps), eps = base**k pixels.

  The image is read by `image_measure(image, mode, threshold, invert)`. H_q is computed at
  every box side base**k up to the shorter image side, and the slope is fitted over those
  in [min_size, max_size]; max_size defaults to `max_fraction` of the shorter side, since a
  few large boxes say more about where the boxes fall than about the set. Sides that are
  powers of base tile exactly; otherwise the partial edge boxes bias negative q (see the
  module docstring).
  """
  qs = np.atleast_1d(np.asarray(q, np.float64))
  if qs.ndim != 1 or qs.size == 0 or not np.isfinite(qs).all():
    raise ValueError(f"q must be one or more finite orders, got {q!r}")
  if int(base) != base or base < 2:
    raise ValueError(f"base must be an integer >= 2, got {base}")
  base = int(base)
  mass, t = _measure(image, mode, threshold, invert)
  short = min(mass.shape)
  levels = 1
  while base ** levels <= short:
    levels += 1
  sizes = base ** np.arange(levels)
  top = max_fraction * short if max_size is None else max_size
  fit = (sizes >= min_size) & (sizes <= top)
  if fit.sum() < 2:
    raise ValueError(f"image {mass.shape[1]}x{mass.shape[0]} too small: box sides base**k = "
                     f"{base}**k in [{min_size}, {top:g}] give fewer than 2 scales to fit")
  entropies = np.stack([renyi_entropy(b, qs) for b in _box_masses(mass, base, levels)], axis=1)
  x = -np.log(sizes.astype(np.float64))
  slope, intercept, r2, stderr = _fit_lines(x[fit], entropies[:, fit])
  return GeneralisedDimensions(q=qs, dimensions=slope, intercepts=intercept, r2=r2, stderr=stderr,
                               sizes=sizes, log_inv_eps=x, entropies=entropies, fit=fit,
                               mode=mode, threshold=t, invert=invert)


def box_counting_dimension(image: np.ndarray, base: int = 2, min_size: int = 1,
                           max_fraction: float = 0.25, threshold: float | None = None,
                           invert: bool = False) -> float:
  """Capacity dimension D_0 of the set in `image`: slope of log N(eps) vs log(1/eps)."""
  return float(generalised_dimensions(image, [0.0], threshold=threshold, invert=invert,
                                      base=base, min_size=min_size,
                                      max_fraction=max_fraction).dimensions[0])


def information_dimension(image: np.ndarray, base: int = 2, min_size: int = 1,
                          max_fraction: float = 0.25, threshold: float | None = None,
                          invert: bool = False, mode: Mode = "set") -> float:
  """Information dimension D_1: slope of the box-mass Shannon entropy vs log(1/eps)."""
  return float(generalised_dimensions(image, [1.0], mode=mode, threshold=threshold,
                                      invert=invert, base=base, min_size=min_size,
                                      max_fraction=max_fraction).dimensions[0])


def plot_dimensions(result: GeneralisedDimensions, path: str, title: str | None = None) -> None:
  """Writes a PNG: H_q against log(1/eps) with each fitted line (left), D_q against q (right).

  Points inside the fitted range are filled, those outside hollow.
  """
  # Imported here: only plotting needs matplotlib. Figure + the Agg canvas, not pyplot, so
  # no global backend or figure state changes.
  from matplotlib.backends.backend_agg import FigureCanvasAgg
  from matplotlib.figure import Figure
  fig = Figure(figsize=(10, 4.2), layout="constrained")
  FigureCanvasAgg(fig)
  left, right = fig.subplots(1, 2)
  x, fit = result.log_inv_eps, result.fit
  for j, qj in enumerate(result.q):
    h = result.entropies[j]
    (line,) = left.plot(x[fit], h[fit], "o", label=f"q={qj:g}: D={result.dimensions[j]:.3f}")
    left.plot(x[~fit], h[~fit], "o", mfc="none", color=line.get_color())
    left.plot(x[fit], result.intercepts[j] + result.dimensions[j] * x[fit], "-",
              color=line.get_color())
  left.set(xlabel="log(1/ε), ε = box side in pixels", ylabel="H_q(ε) [nats]",
           title="Rényi entropies")
  left.legend(fontsize="small")
  order = np.argsort(result.q)
  right.errorbar(result.q[order], result.dimensions[order], yerr=np.nan_to_num(
      result.stderr[order]), fmt="o-", capsize=3)
  right.set(xlabel="q", ylabel="D_q", title="generalised dimensions")
  if title:
    fig.suptitle(title)
  fig.savefig(path, dpi=110)
