"""A plain numpy-loop version of the block search, for tests and the speed comparison.

Deliberately straightforward (one least-squares fit per range, domain and isometry, as in
the usual textbook code): it defines what `matching.match` must compute.
"""

import numpy as np

from jaxgen.fractal import isometries


def match_loop(ranges: np.ndarray, domains: np.ndarray, s_step: float,
               s_levels: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """Same contract as `matching.match`, with `domains` [d, b, b] (isometries applied here)."""
  num_d, b, _ = domains.shape
  out_idx = np.zeros(len(ranges), np.int32)
  out_s = np.zeros(len(ranges), np.int32)
  out_err = np.zeros(len(ranges), np.float32)
  for i, r in enumerate(ranges):
    rc = r.reshape(b, b) - r.mean()
    best = (np.inf, 0, 0)
    for iso in range(isometries.NUM_ISOMETRIES):
      for j in range(num_d):
        d = isometries.apply(domains[j], iso)
        dc = d - d.mean()
        n2 = float(np.sum(dc * dc))
        s = float(np.sum(rc * dc)) / max(n2, 1e-6)  # least-squares contrast
        k = int(np.clip(np.floor(s / s_step + 0.5), -s_levels, s_levels))
        err = float(np.sum((k * s_step * dc - rc) ** 2))
        if err < best[0]:
          best = (err, iso * num_d + j, k)
    out_err[i], out_idx[i], out_s[i] = best
  return out_idx, out_s, out_err
