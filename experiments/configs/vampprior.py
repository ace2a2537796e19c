"""VampPrior VAE: prior = mixture of the posterior at K learned pseudo-inputs.

  python -m experiments.main --config=experiments/configs/vampprior.py --workdir=runs/vampprior
"""

import ml_collections

from experiments.configs.autoencoder_base import autoencoder


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  """The vampprior experiment; `arg='tiny'` shrinks model and run for tests."""
  return autoencoder("vampprior", arg)
