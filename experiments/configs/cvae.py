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
    # KL weight 2 (a beta-VAE): a z closer to the prior has fewer holes, so samples drawn from
    # the prior follow their label. Measured at 3000 steps: conditional accuracy 80.6% with
    # beta=1 and 93.8% with beta=2, at about the same test NLL (91.4 vs 91.6 nats).
    c.beta = 2.0
  return c
