"""Conditional TransGAN: the transgan pair with the digit label fed to both players (a label
embedding beside the generator's noise and modulating each of its blocks, a projection critic).

Sample grids have one row per label; evaluation reports conditional accuracy.

  python -m experiments.main --config=experiments/configs/ctransgan.py --workdir=runs/ctransgan
  python -m experiments.main --config=experiments/configs/ctransgan.py:tiny --workdir=/tmp/ctransgan
"""

import ml_collections

from experiments.configs import transgan


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  """Conditional TransGAN config; `arg='tiny'` for a seconds-long run."""
  c = transgan.get_config(arg)
  c.conditional = True
  # The label also modulates every generator block (a conditional layer norm; issue 36: given
  # once beside the noise, 0.662 of samples showed their label). Records before it trained
  # without.
  c.transgan.g_label_in_blocks = True
  return c
