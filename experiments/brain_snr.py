"""Fixes the synthetic fMRI benchmark's default SNR before any decoder of ours is trained
(issue 37): for each single-trial SNR of a grid it writes the GOD-layout subject, fits the ridge
label decoder on the train trials with its alpha chosen on the validation stimuli (averaged
repeats, as test's are), and reads its validation accuracy. The default is the grid's SNR whose
accuracy lies in the 50-70% band, nearest 60%: hard enough that a decoder has room to beat
the linear read-out, easy enough that it can be beaten at all. Test is never read.

  python -m experiments.brain_snr [--subject=sbj_1] [--snrs=0.005,0.01,...] [--record=brain_snr]

Prints the table; --record writes experiments/results/validation/NAME.json.
"""

import os
import sys

from types import SimpleNamespace

from absl import app, flags
import numpy as np

# Flags are defined when run as a program, not on import (tests import this module beside
# experiments.score, which defines --record too).
_F = SimpleNamespace()


def define_flags() -> None:
  """Defines the command-line flags."""
  _F.subject = flags.DEFINE_string("subject", "sbj_1", "Synthetic subject.")
  _F.snrs = flags.DEFINE_list("snrs", ["0.002", "0.005", "0.01", "0.02", "0.05", "0.1", "0.2"],
                              "Single-trial SNRs to measure.")
  _F.record = flags.DEFINE_string("record", None, "Also write the validation record "
                                  "experiments/results/validation/NAME.json.")

BAND = (0.5, 0.7)  # the ridge decoder's validation accuracy the default SNR must give


def ridge_on_validation(subject: str, snr: float) -> dict[str, float]:
  """The ridge label decoder's validation accuracy (Wilson interval) and chosen alpha for
  `subject`'s signals written at `snr`."""
  from jaxgen.brain import metrics
  from jaxgen.data import brain
  from jaxgen.metrics.intervals import wilson_interval
  g = brain.god_at_snr(subject, snr)
  predict, alpha = metrics.ridge_decoder(g["train_signals"], g["train_labels"],
                                         g["validation_signals"], g["validation_labels"],
                                         refit=False)
  correct = int(np.sum(predict(g["validation_signals"]) == g["validation_labels"]))
  n = len(g["validation_labels"])
  low, high = wilson_interval(correct, n)
  return {"snr": snr, "ridge_accuracy": correct / n, "ridge_ci95_low": low,
          "ridge_ci95_high": high, "ridge_alpha": alpha, "num_validation": n}


def choose(rows: list[dict]) -> float | None:
  """The SNR whose accuracy lies in BAND, nearest its middle; None when none does."""
  inside = [r for r in rows if BAND[0] <= r["ridge_accuracy"] <= BAND[1]]
  if not inside:
    return None
  return min(inside, key=lambda r: abs(r["ridge_accuracy"] - sum(BAND) / 2))["snr"]


def main(argv: list[str]) -> None:
  """Measures the ridge decoder at each SNR, prints the table and the chosen default."""
  del argv
  from experiments import records
  from jaxgen.errors import UserError
  try:
    snrs = [float(s) for s in _F.snrs.value]
    if not snrs or min(snrs) <= 0:
      raise UserError(f"--snrs must be positive numbers, got {_F.snrs.value}")
    if _F.record.value:
      records.check_publishable(records.VALIDATION_DIR)
  except ValueError:
    print(f"error: --snrs must be numbers, got {_F.snrs.value}", file=sys.stderr)
    sys.exit(2)
  except UserError as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(2)
  rows = []
  for snr in snrs:
    rows.append(ridge_on_validation(_F.subject.value, snr))
    r = rows[-1]
    print(f"snr {snr:g}: ridge {r['ridge_accuracy']:.2f} ({r['ridge_ci95_low']:.2f}-"
          f"{r['ridge_ci95_high']:.2f}), alpha {r['ridge_alpha']:g}", flush=True)
  chosen = choose(rows)
  print(f"default SNR: {chosen:g}" if chosen is not None else
        f"no SNR of the grid gives {BAND[0]:.0%}-{BAND[1]:.0%}: widen or refine --snrs")
  if _F.record.value:
    record = {"name": _F.record.value, "kind": "validation", "split": "validation",
              "subject": _F.subject.value, "band": list(BAND), "chosen_snr": chosen, "rows": rows}
    records.write(record, records.VALIDATION_DIR,
                  "python -m experiments.brain_snr " + " ".join(sys.argv[1:]))
    print(f"wrote {os.path.join(records.VALIDATION_DIR, _F.record.value)}.json")


if __name__ == "__main__":
  define_flags()
  app.run(main)
