"""Plain deterministic autoencoder (sampled from a Gaussian fit of its codes).

  python -m experiments.main --config=experiments/configs/ae.py --workdir=runs/ae
"""

import ml_collections

from experiments.configs.autoencoder_base import autoencoder


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  """The ae experiment; `arg='tiny'` shrinks model and run for tests."""
  return autoencoder("ae", arg)
