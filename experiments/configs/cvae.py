"""Conditional VAE: label-conditioned encoder and decoder, sampling by label.

  python -m experiments.main --config=experiments/configs/cvae.py --workdir=runs/cvae
"""

import ml_collections

from experiments.configs import common
from experiments.configs.autoencoder_base import autoencoder


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  """The cvae experiment; `arg='tiny'` shrinks model and run for tests."""
  c = autoencoder("cvae", arg)
  if not common.is_tiny(arg):
    # The label carries the class; a smaller z leaves it the style (stroke, slant, width).
    c.latent_dim = 16
  return c
