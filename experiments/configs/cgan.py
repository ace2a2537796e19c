"""Conditional GAN: the DCGAN pair with the digit label fed to both players.

Sample grids have one row per label; evaluation reports conditional accuracy (a classifier's
agreement with the requested label).

  python -m experiments.main --config=experiments/configs/cgan.py --workdir=runs/cgan
  python -m experiments.main --config=experiments/configs/cgan.py:tiny --workdir=/tmp/cgan_tiny
"""

import ml_collections

from experiments.configs import dcgan


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  """Conditional DCGAN config; `arg='tiny'` for a seconds-long run."""
  c = dcgan.get_config(arg)
  c.conditional = True
  return c
