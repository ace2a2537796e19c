"""VQ tokenizer for MaskGIT and Paella: 28x28 digits -> 7x7 grids of codes from a 256-entry
codebook (EMA codebook, dead-code restarts, commitment weight 0.25).

Evaluation reports reconstruction PSNR, the scoring classifier's FCD and accuracy on the
reconstructions (`recon_` metrics), and codebook usage over the whole validation split.

  python -m experiments.main --config=experiments/configs/vqvae.py --workdir=runs/vqvae
  python -m experiments.main --config=experiments/configs/vqvae.py:tiny --workdir=/tmp/vqvae
"""

import ml_collections

from experiments.configs import common


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  """VQ tokenizer config; `arg='tiny'` for a seconds-long run."""
  tiny = common.is_tiny(arg)
  c = common.base(tiny)
  c.family = "vqvae"
  c.channels = (16, 32) if tiny else (32, 64)
  c.embed_dim = 8 if tiny else 16
  c.num_codes = 32 if tiny else 256
  c.codebook = "ema"
  c.ema_decay = 0.99
  c.beta = 0.25
  c.usage_decay = 0.99
  c.restart_share = 0.03
  c.learning_rate = 1e-3 if tiny else 5e-4
  # 128 digits a step ran at 1 step/s on 2 cores (3000 steps: 50 min); 64 keeps it under 40.
  c.batch_size = 32 if tiny else 64
  c.num_train_steps = 20 if tiny else 3000
  c.eval_every_steps = 10 if tiny else 1000
  c.fcd_num_samples = 0  # a tokenizer does not sample: its quality is the reconstructions'
  c.recon_quality = not tiny
  return c
