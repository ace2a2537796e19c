"""KL autoencoder, latent diffusion's first stage: 28x28 digits (padded to 32x32) -> 8x8x4
latents with a diagonal-Gaussian posterior, L1 reconstruction and LDM's KL weight 1e-6.

Evaluation reports reconstruction PSNR, the latent scale factor, and the scoring classifier's
FCD and accuracy on the reconstructions (`recon_` metrics).

  python -m experiments.main --config=experiments/configs/kl_autoencoder.py \\
      --workdir=runs/kl_autoencoder
  python -m experiments.main --config=experiments/configs/kl_autoencoder.py:tiny --workdir=/tmp/kl
"""

import ml_collections

from experiments.configs import common


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  """KL autoencoder config; `arg='tiny'` for a seconds-long run."""
  tiny = common.is_tiny(arg)
  c = common.base(tiny)
  c.family = "kl_autoencoder"
  c.channels = (16, 32) if tiny else (32, 64)
  c.padded_size = 32  # 28 -> 32: 8x8 latents, which the latent U-Net can halve
  c.latent_channels = 4
  c.kl_weight = 1e-6  # LDM's (see jaxgen/latent/autoencoder.py for the mapping)
  c.recon_loss = "l1"
  c.latent_stats_decay = 0.99
  c.learning_rate = 1e-3 if tiny else 5e-4
  c.batch_size = 32 if tiny else 64
  c.num_train_steps = 30 if tiny else 2000
  c.eval_every_steps = 15 if tiny else 1000
  c.checkpoint_every_steps = 15 if tiny else 500
  c.fcd_num_samples = 0  # it does not sample: its quality is the reconstructions'
  c.recon_quality = not tiny
  return c
