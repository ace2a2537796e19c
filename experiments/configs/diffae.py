"""Diffusion Autoencoder (Preechakul et al. 2022): a semantic encoder to a 64-d z_sem and a
U-Net conditioned on it through adaptive group norm, trained on the eps loss; reconstruction
from (z_sem, x_T) with x_T found by DDIM inversion.

  python -m experiments.main --config=experiments/configs/diffae.py --workdir=runs/diffae
  python -m experiments.main --config=experiments/configs/diffae.py:tiny --workdir=/tmp/diffae
"""

import ml_collections

from experiments.configs import common
from experiments.configs.diffusion_base import diffusion


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  """The diffae experiment; `arg='tiny'` shrinks model and run for tests."""
  tiny = common.is_tiny(arg)
  c = diffusion("diffae", arg)
  del c.nll_eval_examples, c.nll_estimator, c.nll_exact_terms, c.nll_draws, c.conditional
  del c.p_uncond
  c.learning_rate = 1e-3
  c.model.semantic_dim = 16 if tiny else 64
  c.model.encoder_channels = (16, 32) if tiny else (32, 64)
  c.model.encoder_hidden = 64 if tiny else 256
  c.diffusion.clip_x0 = False  # inversion needs the unclipped DDIM map
  c.sampler.num_steps = 5 if tiny else 50
  # DDPM's U-Net plus the semantic encoder. 1800 steps of the earlier, wider U-Net kept the
  # label from z_sem in 0.80 of test digits (the semantic path is what trains last); the
  # right-sized U-Net (issue 35) fits 4500 steps in DDPM's budget.
  c.num_train_steps = 20 if tiny else 4500
  c.eval_every_steps = 10 if tiny else 1500
  c.fcd_num_samples = 0  # it does not sample on its own (diffae_latent does)
  # The scorer on decodings of z_sem from random x_T would decode the whole validation split
  # (50 DDIM steps each, minutes per eval); experiments.report measures it on test instead.
  c.recon_quality = False
  c.recon_eval_examples = 8 if tiny else 100
  return c
