"""Paired comparisons of two models scored on the same items: the one place "A against B" is
decided.

- Accuracies on the same images: McNemar's exact test on the discordant pairs, and the paired
  difference's 95% interval.
- Per-image values (likelihoods, PSNR): the mean of the per-image differences and its interval.
- FCD: the difference's bootstrap distribution, resampling both sample sets and the shared
  reference together, so the reference's own sampling error enters both FCDs the same way.

A difference whose interval holds 0 (or whose p-value is above 0.05) is not a result.
"""

import fractions
import math

import numpy as np

from jaxgen.metrics.fcd import frechet_distance, gaussian_fit
from jaxgen.metrics.intervals import Z95, mean_and_se


def mcnemar_exact(correct_a: np.ndarray, correct_b: np.ndarray) -> dict[str, float]:
  """McNemar's exact test of two classifiers' (or generators') correctness on the same n items.

  correct_a, correct_b: bool [n]. Returns n, the accuracies, the discordant counts (a_only: A
  right and B wrong; b_only), the two-sided exact p-value (binomial on the discordant pairs
  with p = 1/2) and the difference accuracy_a - accuracy_b with its 95% Wald interval for
  paired proportions, and the verdict.
  """
  a, b = np.asarray(correct_a, bool), np.asarray(correct_b, bool)
  if a.shape != b.shape or a.ndim != 1 or a.size == 0:
    raise ValueError(f"McNemar's test needs two equal-length 1-D correctness vectors, got "
                     f"{a.shape} and {b.shape}")
  n = a.size
  a_only, b_only = int(np.sum(a & ~b)), int(np.sum(~a & b))
  discordant = a_only + b_only
  # Two-sided: twice the smaller tail of Binomial(discordant, 1/2), capped at 1.
  tail = sum(math.comb(discordant, k) for k in range(min(a_only, b_only) + 1))
  # In integers until the one division: 2.0 ** discordant overflows past 1,023 pairs.
  p_value = min(1.0, float(fractions.Fraction(2 * tail, 2 ** discordant))) if discordant else 1.0
  diff = (a_only - b_only) / n
  se = math.sqrt(max(discordant - (a_only - b_only) ** 2 / n, 0.0)) / n
  low, high = diff - Z95 * se, diff + Z95 * se
  return {"n": n, "accuracy_a": float(a.mean()), "accuracy_b": float(b.mean()),
          "a_only": a_only, "b_only": b_only, "p_value": p_value, "difference": diff,
          "difference_ci95_low": low, "difference_ci95_high": high,
          "verdict": verdict(low, high, p_value)}


def paired_difference(values_a: np.ndarray, values_b: np.ndarray) -> dict[str, float]:
  """Mean of the per-item differences values_a - values_b [n] with its SE and 95% interval:
  the items' own difficulty cancels, so this is far tighter than either mean's interval."""
  a, b = np.asarray(values_a, np.float64), np.asarray(values_b, np.float64)
  if a.shape != b.shape or a.ndim != 1:
    raise ValueError(f"paired values need equal 1-D shapes, got {a.shape} and {b.shape}")
  mean, se = mean_and_se(a - b)
  low, high = mean - Z95 * se, mean + Z95 * se
  return {"n": int(a.size), "mean_a": float(a.mean()), "mean_b": float(b.mean()),
          "difference": mean, "difference_se": se, "difference_ci95_low": low,
          "difference_ci95_high": high, "verdict": verdict(low, high)}


def fcd_difference(features_a: np.ndarray, features_b: np.ndarray, reference: np.ndarray,
                   num_boot: int = 200, seed: int = 0) -> dict[str, float]:
  """FCD(A) - FCD(B) against one reference, with a joint bootstrap.

  features_a [n, d], features_b [m, d]: the two models' samples' features; reference [r, d]:
  the real images' features both are scored against. Each resample draws A, B and the
  reference anew (with replacement) and recomputes both FCDs against the same resampled
  reference. Returns both FCDs, the difference, its bootstrap sd, the 95% percentile interval
  and the share of resamples in which A scored lower (better).
  """
  fa, fb, fr = (np.asarray(x, np.float64) for x in (features_a, features_b, reference))
  ref = gaussian_fit(fr)
  fcd_a = frechet_distance(*gaussian_fit(fa), *ref)
  fcd_b = frechet_distance(*gaussian_fit(fb), *ref)
  rng = np.random.default_rng(seed)
  pairs = []
  for _ in range(num_boot):
    r = gaussian_fit(fr[rng.integers(0, len(fr), len(fr))])
    pairs.append((frechet_distance(*gaussian_fit(fa[rng.integers(0, len(fa), len(fa))]), *r),
                  frechet_distance(*gaussian_fit(fb[rng.integers(0, len(fb), len(fb))]), *r)))
  pairs = np.asarray(pairs)  # [num_boot, 2]
  diffs = pairs[:, 0] - pairs[:, 1]
  # Resampling repeats points, which raises each resampled FCD by about its finite-n bias, by
  # different amounts for A and B: the resamples' centre is shifted, their spread is not. So
  # the interval is the difference +- 1.96 bootstrap sd (as fcd_and_sd does), not the
  # resamples' percentiles, and the share is taken around the observed difference.
  sd = float(diffs.std(ddof=1))
  diff = fcd_a - fcd_b
  centred = diffs - diffs.mean() + diff
  low, high = diff - Z95 * sd, diff + Z95 * sd
  # The ratio FCD(A) / FCD(B) (papers state "1.47x"), on the log scale for the same reason:
  # log ratio +- 1.96 bootstrap sd of the resamples' log ratios.
  log_sd = float(np.log(pairs[:, 0] / pairs[:, 1]).std(ddof=1))
  ratio = fcd_a / fcd_b
  return {"fcd_a": fcd_a, "fcd_b": fcd_b, "difference": diff, "difference_sd": sd,
          "difference_ci95_low": low, "difference_ci95_high": high,
          "ratio": ratio, "ratio_ci95_low": ratio * math.exp(-Z95 * log_sd),
          "ratio_ci95_high": ratio * math.exp(Z95 * log_sd),
          "share_a_lower": float(np.mean(centred < 0)), "verdict": verdict(low, high)}


def verdict(low: float, high: float, p_value: float | None = None) -> str:
  """'A lower', 'A higher' or 'no difference': whether the 95% interval of A - B excludes 0
  (and, for McNemar, p < 0.05)."""
  if p_value is not None and p_value >= 0.05:
    return "no difference"
  if low > 0:
    return "A higher"
  if high < 0:
    return "A lower"
  return "no difference"
