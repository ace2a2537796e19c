"""Settings shared by the autoencoder configs (ae, vae, cvae, vampprior)."""

import ml_collections

from experiments.configs import common


def autoencoder(variant: str, arg: str | None) -> ml_collections.ConfigDict:
  """Config for `variant` on the embedded digits; `arg='tiny'` for a seconds-long run."""
  tiny = common.is_tiny(arg)
  c = common.base(tiny)
  c.family = "vae"
  c.variant = variant
  c.learning_rate = 1e-3
  c.architecture = "conv"  # or "gated_mlp" (the VampPrior paper's networks)
  c.latent_dim = 4 if tiny else 32
  c.channels = (8, 16) if tiny else (16, 32)
  c.hidden = 32 if tiny else 256
  c.likelihood = "bernoulli"
  c.binarize = True  # dynamic binarisation, as in the VAE / VampPrior papers' MNIST setups
  c.obs_log_var = 0.0  # only for likelihood='gaussian'
  c.beta = 1.0
  c.num_pseudo_inputs = 8 if tiny else 200  # VampPrior's K
  c.iw_samples = 4 if tiny else 250  # importance samples for the test log-likelihood
  c.num_train_steps = 20 if tiny else 3000
  c.eval_every_steps = 10 if tiny else 1500
  return c
