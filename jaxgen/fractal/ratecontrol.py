"""Rate control: one Lagrange multiplier shared by all planes, found by bisection.

Bit costs per level and leaf kind start as rough guesses and are re-measured from the
real entropy coder after each round, so the final file lands close to the target size.
"""

import numpy as np

from jaxgen.fractal import entropy, quadtree, stream
from jaxgen.fractal.types import CoderParams, LevelMatches, PlaneCode


def initial_rates(levels: list[LevelMatches], params: CoderParams) -> np.ndarray:
  """Rough bits of (flag, DC-only leaf, full leaf) per level: [num_levels, 3]."""
  s_bits = np.log2(2 * params.quant.s_levels + 1)
  return np.array([[1.0, 6.0, 6.0 + s_bits + 3.0 + np.log2(max(lv.num_domains, 1))]
                   for lv in levels])


def measure_rates(plane: PlaneCode, params: CoderParams, height: int, width: int,
                  old: np.ndarray) -> tuple[np.ndarray, int]:
  """Codes `plane` and returns (measured rates [num_levels, 3], payload bytes)."""
  coder = entropy.SymbolCoder()
  log = []
  stream.code_plane(coder, params, height, width, plane, bit_log=log)
  log = np.asarray(log).reshape(-1, 3)  # [nodes, (size, kind, bits)], kind 2 = split node
  rates = old.copy()
  for li, b in enumerate(params.sizes):
    for col, kind in ((0, 2), (1, 0), (2, 1)):
      sel = (log[:, 0] == b) & (log[:, 1] == kind)
      if sel.sum() >= 8:  # too few nodes say little; keep the old figure
        rates[li, col] = log[sel, 2].mean()
  return rates, len(coder.finish())


def choose_lambda(planes: list[list[LevelMatches]], rates: list[np.ndarray],
                  weights: list[float], target_bits: float) -> float:
  """Smallest-distortion multiplier whose estimated total bits stay within `target_bits`."""
  def total_bits(lam):
    return sum(quadtree.rd_split(lv, lam / w, r)[2] for lv, r, w in zip(planes, rates, weights))

  lo, hi = 1e-3, 1e7
  for _ in range(40):  # geometric bisection: bits fall as lambda grows
    mid = np.sqrt(lo * hi)
    if total_bits(mid) > target_bits:
      lo = mid
    else:
      hi = mid
    if hi / lo < 1.01:
      break
  return hi
