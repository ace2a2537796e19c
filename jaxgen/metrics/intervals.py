"""Error bars for the figures jaxgen compares: binomial intervals, standard errors, bootstrap.

A difference between two models is a result only when it is larger than these errors; the
report prints them beside every figure.
"""

import math
from typing import Callable

import numpy as np

Z95 = 1.959963984540054  # the standard normal's 97.5% quantile


def wilson_interval(successes: int, trials: int, z: float = Z95) -> tuple[float, float]:
  """Wilson score interval (95% by default) of a binomial proportion successes / trials.

  Unlike p +- z sqrt(p(1-p)/n) it stays inside [0, 1] and does not collapse to a point at
  p = 0 or 1, where accuracies of good conditional models sit.
  """
  if trials <= 0:
    raise ValueError(f"a binomial interval needs trials > 0, got {trials}")
  p = successes / trials
  denom = 1.0 + z * z / trials
  centre = (p + z * z / (2 * trials)) / denom
  half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denom
  return max(0.0, centre - half), min(1.0, centre + half)


def mean_and_se(values: np.ndarray) -> tuple[float, float]:
  """Mean of per-example values [n] and its standard error sd / sqrt(n) (0 when n = 1)."""
  v = np.asarray(values, np.float64).reshape(-1)
  if v.size == 0:
    raise ValueError("mean_and_se needs at least one value")
  se = float(v.std(ddof=1) / math.sqrt(v.size)) if v.size > 1 else 0.0
  return float(v.mean()), se


def bootstrap_sd(statistic: Callable[[np.ndarray], float], num: int, num_boot: int = 200,
                 seed: int = 0) -> float:
  """Standard deviation of `statistic(indices)` over `num_boot` resamples with replacement of
  range(num): the sampling error of a statistic of `num` i.i.d. items (here: samples' features).
  """
  rng = np.random.default_rng(seed)
  values = [statistic(rng.integers(0, num, num)) for _ in range(num_boot)]
  return float(np.std(values, ddof=1))
