"""Tuning sweep for the fractal codec's free choices, on the tuning photographs only.

The choices: the decoder's deblocking strength, the chroma weight of rate control, the
domain lattice steps and the search pruning. Each is varied around the defaults with the
others fixed, at three target ratios on `fractal_rd.TUNING`; the table gives mean PSNR
(dB), mean file bytes and mean encode seconds per setting. `fractal_rd` then reports the
chosen defaults on the held-out photographs, which this sweep never reads.

  python -m experiments.bench.fractal_tune          # ~6 min on 2 cores
"""

import argparse
import time

import numpy as np

from experiments.bench import fractal_rd
from jaxgen import fractal

RATIOS = (12.0, 30.0, 63.0)
SMOOTH = (0.0, 0.5, 1.0, 1.5, 2.0)
CHROMA_WEIGHTS = (2.0, 3.0, 4.0, 6.0)
# Lattice steps (half-size pixels) per range size, replacing the defaults of
# `codec.default_params`; None keeps them.
LATTICES = {"default": None, "8x8 step 6": {8: 6}, "8x8 step 3": {8: 3},
            "16x16 step 6": {16: 6}, "4x4 step 4": {4: 4}, "4x4 step 8": {4: 8},
            "2x2 step 6": {2: 6}}
PRUNE_BITS = (16.0, 32.0, 64.0, 128.0)
SWEEPS = ("deblock", "chroma", "lattice", "prune")


def _encode(img, ratio, lattice=None, **kwargs):
  """Encodes with the default block sizes for `ratio` and optional lattice overrides."""
  params = fractal.codec.default_params(2 if ratio < 24 else 4, 32, lattice)
  t0 = time.perf_counter()
  code = fractal.encode(img, ratio=ratio, params=params, **kwargs)
  data = fractal.to_bytes(code)
  return fractal.from_bytes(data), len(data), time.perf_counter() - t0


def _row(label: str, scores: dict, base: dict | None = None) -> str:
  """Means of (PSNR, bytes, seconds) over `scores` {(image, ratio): triple}, and the mean
  PSNR difference to `base` on the same (image, ratio) pairs."""
  psnr, nbytes, secs = (np.mean([s[i] for s in scores.values()]) for i in range(3))
  delta = (np.mean([scores[k][0] - base[k][0] for k in scores]) if base is not None
           else float("nan"))
  return f"{label:<28}{psnr:>8.3f}{delta:>+8.3f}{nbytes:>9.0f}{secs:>8.2f}"


def _sweep(imgs: dict, settings: dict, skip=lambda setting, ratio: False) -> None:
  """Prints one row per setting {label: encode kwargs}; the first setting is the base."""
  base = None
  for label, kwargs in settings.items():
    scores = {}
    for n, img in imgs.items():
      for r in RATIOS:
        if not skip(kwargs, r):
          c, b, t = _encode(img, r, **kwargs)
          scores[(n, r)] = (fractal_rd.psnr(img, fractal.decode(c)), b, t)
    base = base or scores
    print(_row(label, scores, base), flush=True)


def main() -> None:
  """Runs the sweep and prints one table per choice."""
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--sweeps", nargs="+", choices=SWEEPS, default=SWEEPS,
                      help="which choices to sweep (default all)")
  args = parser.parse_args()
  imgs = fractal_rd.images("tuning")
  grey = {k: v for k, v in imgs.items() if v.ndim == 2}
  colour = {k: v for k, v in imgs.items() if v.ndim == 3}
  for img in imgs.values():  # compile every shape first, so seconds are comparable
    for ratio in RATIOS:
      _encode(img, ratio)
  head = f"{'setting':<28}{'PSNR':>8}{'vs 1st':>8}{'bytes':>9}{'enc s':>8}"
  print(f"tuning set: {', '.join(imgs)}; ratios {RATIOS}; means over images and ratios; "
        "'vs 1st': mean PSNR difference to the first row on the same images and ratios\n")

  if "deblock" in args.sweeps:
    print("deblocking strength (decoder), all tuning images\n" + head)
    codes = {(n, r): _encode(img, r) for n, img in imgs.items() for r in RATIOS}
    base = None
    for smooth in (1.0,) + tuple(x for x in SMOOTH if x != 1.0):
      scores = {k: (fractal_rd.psnr(imgs[k[0]], fractal.decode(c, smooth=smooth)), b, t)
                for k, (c, b, t) in codes.items()}
      base = base or scores
      print(_row(f"smooth={smooth:g}", scores, base), flush=True)
  if "chroma" in args.sweeps:
    print("\nchroma weight (rate control), colour tuning images\n" + head)
    _sweep(colour, {f"chroma_weight={w:g}": dict(chroma_weight=w)
                    for w in sorted(CHROMA_WEIGHTS, key=lambda w: w != 4.0)})
  if "lattice" in args.sweeps:
    print("\ndomain lattice steps, grey tuning images\n" + head)
    _sweep(grey, {label: dict(lattice=lattice) for label, lattice in LATTICES.items()},
           skip=lambda kw, r: bool(kw["lattice"]) and 2 in kw["lattice"] and r >= 24)
  if "prune" in args.sweeps:
    print("\nsearch pruning (prune_bits), grey tuning images; the default rule takes 64 "
          "where the smallest block is 4 (from 24:1) and 16 below\n" + head)
    settings = {f"prune_bits={b:g}": dict(prune_bits=b)
                for b in sorted(PRUNE_BITS, key=lambda b: b != 16.0)}
    settings["default rule"] = dict(prune_bits=None)
    _sweep(grey, settings)

if __name__ == "__main__":
  main()
