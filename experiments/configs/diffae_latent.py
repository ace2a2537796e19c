"""DiffAE's latent DDIM: an MLP with skip connections learns the trained Diffusion
Autoencoder's normalised z_sem; samples are latent-DDIM codes decoded from random x_T.

  python -m experiments.main --config=experiments/configs/diffae.py --workdir=runs/diffae
  python -m experiments.main --config=experiments/configs/diffae_latent.py \\
      --workdir=runs/diffae_latent --config.diffae_workdir=runs/diffae
"""

import ml_collections

from experiments.configs import common
from experiments.configs.diffusion_base import diffusion


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  """The diffae_latent experiment; `arg='tiny'` shrinks model and run for tests."""
  tiny = common.is_tiny(arg)
  c = diffusion("diffae_latent", arg)
  del c.nll_eval_examples, c.nll_estimator, c.nll_exact_terms, c.nll_draws, c.conditional
  del c.p_uncond, c.model
  c.diffae_workdir = "runs/diffae"
  c.mlp_hidden = 64 if tiny else 512
  c.mlp_depth = 2 if tiny else 6
  c.learning_rate = 1e-3
  c.batch_size = 32 if tiny else 256
  c.num_train_steps = 20 if tiny else 3000
  c.eval_every_steps = 10 if tiny else 1000
  c.diffusion.clip_x0 = False  # normalised codes are not confined to [-1, 1]
  return c
