"""VAE: reparameterisation trick, ELBO with the KL in closed form.

  python -m experiments.main --config=experiments/configs/vae.py --workdir=runs/vae
"""

import ml_collections

from experiments.configs.autoencoder_base import autoencoder


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  """The vae experiment; `arg='tiny'` shrinks model and run for tests."""
  return autoencoder("vae", arg)
