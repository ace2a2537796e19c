"""`encode` and `decode`: whole images (grey or RGB) to and from a `FractalCode`."""

import math
import time

import numpy as np

from jaxgen.fractal import colour, decoder, limits, quadtree, ratecontrol
from jaxgen.fractal.types import CoderParams, FractalCode, padded_shape

HEADER_BYTES = 40  # approximate .fic overhead, subtracted from the byte budget
# Domain lattice step (half-size pixels) per range size: dense where blocks are large and
# few (quality), coarser for the many small blocks (speed, and fewer index bits).
_STEPS = {64: 16, 32: 16, 16: 8, 8: 4, 4: 4, 2: 8}


def default_params(min_block: int = 4, max_block: int = 32,
                   lattice: dict[int, int] | None = None) -> CoderParams:
  """Coder settings with the default domain lattice for the given block sizes.

  Args:
    lattice: optional {range size: lattice step} entries replacing the defaults (used by
      the tuning sweep, `experiments/bench/fractal_tune.py`).
  """
  if min_block not in _STEPS or max_block not in _STEPS or min_block > max_block:
    raise ValueError(f"block sizes must be powers of two in 2..64 with min <= max, "
                     f"got {min_block} and {max_block}")
  sizes = [b for b in sorted(_STEPS, reverse=True) if min_block <= b <= max_block]
  steps = [_STEPS[b] for b in sizes]
  if min_block == 4 and len(steps) > 1:
    # 4x4 as the smallest size means high ratios, where 4x4 leaves are few: a coarser
    # lattice halves the search (~0.04 dB on camera at 30:1).
    steps[-1] = 6
  steps = [(lattice or {}).get(b, s) for b, s in zip(sizes, steps)]
  return CoderParams(min_block, max_block, tuple(steps))


def expected_lambda(ratio: float) -> float:
  """Rough Lagrange multiplier (squared grey levels per bit) that rate control lands on
  for a target ratio, fitted on natural 8-bit images; only used to prune the search."""
  return 1.9 * ratio ** 1.25


def _planes(image: np.ndarray) -> list[np.ndarray]:
  """Image -> planes to code: [grey] or [Y, Cb/2, Cr/2] (float32, 0..255)."""
  if image.ndim == 2 or image.shape[-1] == 1:
    return [image.reshape(image.shape[0], image.shape[1]).astype(np.float32)]
  ycc = colour.rgb_to_ycbcr(image[..., :3])
  return [ycc[..., 0], colour.halve(ycc[..., 1]), colour.halve(ycc[..., 2])]


def _pad(plane: np.ndarray, max_block: int) -> np.ndarray:
  """Edge-pads a plane to whole top-level tiles."""
  ph, pw = padded_shape(*plane.shape, max_block)
  return np.pad(plane, ((0, ph - plane.shape[0]), (0, pw - plane.shape[1])), mode="edge")


def encode(image: np.ndarray, ratio: float | None = None, tolerance: float | None = None,
           params: CoderParams | None = None, prune_bits: float | None = None,
           chroma_weight: float = 4.0, rounds: int = 2, log=None,
           max_samples: int | None = None) -> FractalCode:
  """Encodes a grey [h, w] or RGB [h, w, 3] uint8 image as a partitioned IFS.

  Args:
    ratio: target compression ratio (raw bytes / file bytes); chooses the quadtree by
      rate-distortion optimisation with one Lagrange multiplier for all planes.
    tolerance: instead of `ratio`, Fisher's rule: split blocks whose RMS collage error
      exceeds this (grey levels); chroma uses twice the tolerance.
    prune_bits: blocks whose collage error is below `prune_bits` times the expected
      Lagrange multiplier are never split, so their children are not searched (0: search
      every block of every size). Default 64 when the smallest block is 4 or more (from
      24:1), else 16: on the tuning photographs that rule costs 0.005 dB against 16
      everywhere and searches 24% fewer multiply-adds at 30-63:1 (64 at every ratio cost
      0.019 dB); `python -m experiments.bench.fractal_tune --sweeps prune`.
    chroma_weight: weight of a chroma sample's squared error relative to a luma one in
      rate control: a half-resolution chroma sample covers 4 pixels, and Cb/Cr errors
      reach RGB with gains ~0.8-1.1, hence ~4 for RGB PSNR (checked on astronaut).
    log: optional callable(str) for progress messages.
    max_samples: the decoder's safety cap (see `limits`); larger images are refused
      before the search, since their files would be refused by default readers too.
  """
  image = np.asarray(image)
  if image.ndim == 3 and image.shape[-1] == 1:
    image = image[..., 0]
  if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[-1] != 3):
    raise ValueError(f"expected a grey [h, w] or RGB [h, w, 3] image, got shape {image.shape}"
                     + (" (composite or drop the alpha channel first)"
                        if image.ndim == 3 and image.shape[-1] in (2, 4) else ""))
  if image.dtype != np.uint8:
    raise ValueError(f"expected uint8 grey levels, got {image.dtype} "
                     "(jaxgen.images.load_image scales 16-bit and float images)")
  if (ratio is None) == (tolerance is None):
    raise ValueError("give exactly one of ratio and tolerance")
  if ratio is not None and not ratio > 0:
    raise ValueError(f"ratio must be positive, got {ratio}")
  if tolerance is not None and not tolerance > 0:
    raise ValueError(f"tolerance must be positive, got {tolerance}")
  if params is None:
    # 2x2 ranges only pay off when there are bits to spend on fine detail.
    params = default_params(2 if ratio is not None and ratio < 24 else 4)
  if prune_bits is None:
    prune_bits = 64.0 if params.min_block >= 4 else 16.0
  # The reader's limits, checked before the search so no file is written it would refuse.
  limits.check_sides(image.shape[0], image.shape[1])
  channels = 1 if image.ndim == 2 else 3
  limits.check_samples(image.shape[0], image.shape[1], channels, params.max_block, 1,
                       max_samples)
  planes = _planes(image)
  dims = [p.shape for p in planes]
  t0 = time.perf_counter()

  # The search is the only user of jax in this package: imported here, so that decoding
  # and reading files never pay for importing it.
  from jaxgen.fractal import analysis

  def search(prune):
    out = []
    for i, p in enumerate(planes):
      out.append(analysis.analyse(_pad(p, params.max_block), params, prune))
      if log:
        log(f"plane {i} searched, {time.perf_counter() - t0:.2f}s")
    return out

  if tolerance is not None:
    levels = search(tolerance ** 2 * params.min_block ** 2)  # Fisher's rule never splits these
    trees = [quadtree.tolerance_split(lv, tolerance * (1 if i == 0 else 2))
             for i, lv in enumerate(levels)]
    codes = [quadtree.leaves(lv, *t, *d) for lv, t, d in zip(levels, trees, dims)]
    return FractalCode(image.shape[0], image.shape[1], len(planes), params, tuple(codes))
  raw_bytes = image.shape[0] * image.shape[1] * (1 if len(planes) == 1 else 3)
  samples = sum(h * w for h, w in dims)
  guess = expected_lambda(ratio * samples / raw_bytes)  # the fit is per coded sample
  levels = search(prune_bits * guess)
  target = max(raw_bytes / ratio - HEADER_BYTES, 16) * 8.0
  codes, lam = _rate_control(levels, params, dims, target, chroma_weight, rounds, log)
  if lam * 2 < guess:
    # The image needs a much smaller multiplier than guessed, so pruning may have hidden
    # useful splits: search again with the pruning its real multiplier allows.
    levels = search(prune_bits * lam)
    codes, lam = _rate_control(levels, params, dims, target, chroma_weight, rounds, log)
  return FractalCode(image.shape[0], image.shape[1], len(planes), params, tuple(codes))


def _rate_control(levels, params, dims, target_bits, chroma_weight, rounds, log):
  """Quadtrees for all planes meeting `target_bits`: (plane codes, Lagrange multiplier)."""
  weights = [1.0] + [chroma_weight] * (len(levels) - 1)
  rates = [ratecontrol.initial_rates(lv, params) for lv in levels]
  for r in range(rounds):
    lam = ratecontrol.choose_lambda(levels, rates, weights, target_bits)
    codes, nbytes = [], 0
    for i, (lv, d) in enumerate(zip(levels, dims)):
      splits, fulls, _, _ = quadtree.rd_split(lv, lam / weights[i], rates[i])
      codes.append(quadtree.leaves(lv, splits, fulls, *d))
      if r + 1 < rounds:  # re-measure bit costs on the real coder for the next round
        rates[i], b = ratecontrol.measure_rates(codes[-1], params, *d, rates[i])
        nbytes += b
    if log and r + 1 < rounds:
      log(f"rate round {r}: lambda {lam:.3g}, {nbytes} payload bytes")
  return codes, lam


def decode(code: FractalCode, scale: float = 1.0, iterations: int = 32,
           smooth: float = 1.0, start: np.ndarray | None = None,
           max_samples: int | None = None) -> np.ndarray:
  """Decodes to uint8 [round(scale*h), round(scale*w)] (grey) or [..., 3] (RGB).

  Integer scales are native fractal zoom (the attractor rendered on a finer grid); other
  scales decode at the next integer zoom and resample. `max_samples` is the safety cap
  on decoded samples (see `limits`), checked before anything is allocated.
  """
  if not 0 < scale <= 8:
    raise ValueError(f"scale must be in (0, 8], got {scale}")
  if not 1 <= iterations <= 1000:
    raise ValueError(f"iterations must be in 1..1000, got {iterations}")
  zoom = max(1, math.ceil(scale - 1e-9))
  limits.check_samples(code.height, code.width, code.channels, code.params.max_block, zoom,
                       max_samples)
  out_h, out_w = max(1, round(code.height * scale)), max(1, round(code.width * scale))
  planes = [decoder.decode_plane(p, code.params, zoom, iterations, smooth=smooth,
                                 start=start if i == 0 else None)
            for i, p in enumerate(code.planes)]
  h, w = code.height * zoom, code.width * zoom
  if code.channels == 1:
    img = planes[0]
  else:
    cb, cr = (colour.double(p, h, w) for p in planes[1:])
    img = colour.ycbcr_to_rgb(np.stack([planes[0], cb, cr], axis=-1))
  if (h, w) != (out_h, out_w):
    img = _resize(img, out_h, out_w)
  return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def _resize(img: np.ndarray, h: int, w: int) -> np.ndarray:
  """Antialiased resampling through Pillow, per channel in float."""
  from PIL import Image
  chans = img[..., None] if img.ndim == 2 else img
  out = [np.asarray(Image.fromarray(chans[..., c].astype(np.float32), mode="F")
                    .resize((w, h), Image.Resampling.LANCZOS)) for c in range(chans.shape[-1])]
  return out[0] if img.ndim == 2 else np.stack(out, axis=-1)
