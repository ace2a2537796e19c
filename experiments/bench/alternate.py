"""Timing several computations alternately in one run: the only fair speed comparison on a
shared machine, since load from other processes then falls on every contender alike."""

import statistics
from typing import Any, Callable

import jax


def time_alternately(runs: dict[str, Callable[[int], Any]], reps: int) -> dict[str, float]:
  """Median seconds per call of each `runs[name](i)` (i >= 0: the call's index, to vary keys).

  Each is called once first (i = 0: compilation and first-run costs apart, not timed); then `reps`
  rounds call each once in turn, in a rotating order so no contender always follows another.
  """
  import time
  for fn in runs.values():
    jax.block_until_ready(fn(0))
  seconds: dict[str, list[float]] = {name: [] for name in runs}
  names = list(runs)
  for i in range(reps):
    for name in names[i % len(names):] + names[:i % len(names)]:
      start = time.perf_counter()
      jax.block_until_ready(runs[name](i + 1))
      seconds[name].append(time.perf_counter() - start)
  return {name: statistics.median(s) for name, s in seconds.items()}


def ratio_references(names: list[str], references: list[str]) -> dict[str, str]:
  """Each entry's reference: the latest of `references` at or before it in the order (the
  first entry where none is)."""
  from jaxgen.errors import UserError
  unknown = sorted(set(references) - set(names))
  if unknown:
    raise UserError(f"--reference names no entry: {', '.join(unknown)}; entries: "
                    f"{', '.join(names)}")
  out, current = {}, names[0]
  for name in names:
    current = name if name in references else current
    out[name] = current
  return out
