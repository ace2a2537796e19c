"""TransGAN: transformer generator (7x7 -> 14x14 -> 28x28 by pixel shuffle) and ViT critic,
trained with the maintainers' recipe (WGAN-GP with the drift term, Adam(0, 0.99), four critic
updates per generator update, an EMA generator for sampling, DiffAugment on all the critic sees)
with the learning rate, EMA and augmentation tuned for a 16-minute run. The conditional variant
is experiments/configs/ctransgan.py.

  python -m experiments.main --config=experiments/configs/transgan.py --workdir=runs/transgan
  python -m experiments.main --config=experiments/configs/transgan.py:tiny --workdir=/tmp/transgan
"""

import ml_collections

from experiments.configs import common


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  """TransGAN config; `arg='tiny'` for a seconds-long run."""
  tiny = common.is_tiny(arg)
  c = common.base(tiny)
  c.family = "gan"
  c.model = "transgan"
  c.conditional = False
  c.latent_dim = 16 if tiny else 64
  c.loss = "wgan_gp"
  c.gp_weight = 10.0
  c.drift_weight = 1e-3
  # Chosen on validation FCD at the default budget over the maintainers' lr 1e-4, EMA 0.999 and
  # translation + cutout: lr 4e-4 and translation alone. A cutout of half the side hides half a
  # digit. The EMA's decay was not what helped: its warm-up, min(decay, (1 + s) / (10 + s)),
  # stays below 0.995 until step 1,790, so in an 1800-step run 0.995 and 0.999 differ on 9
  # steps (the decay in effect is logged as `ema_decay`; `ema_warmup=False` turns it off).
  c.learning_rate = 4e-4
  c.adam_b1, c.adam_b2 = 0.0, 0.99
  c.n_critic = 4
  c.ema_decay = 0.995
  c.ema_warmup = True
  c.diffaugment = ("translation",)
  # n_critic sub-batches of 32: each critic update reads 32 real digits, the generator update
  # draws 32 fakes.
  c.batch_size = 4 * (8 if tiny else 32)
  # 1,800 steps train in 16 minutes on this 2-core machine (0.5 s a step alone).
  c.num_train_steps = 20 if tiny else 1800
  c.eval_every_steps = 10 if tiny else 600
  c.transgan = ml_collections.ConfigDict(dict(
      # Generator: token widths at 7x7, 14x14 and 28x28 (where attention runs in 7x7 windows).
      # 128 at 7x7 cost 15% more a step for 4x the stage's parameters; the steps are bound by
      # the many small operations of the blocks' backward passes, not by their width.
      g_widths=(32, 16, 8) if tiny else (64, 32, 16),
      g_depths=(1, 1, 1) if tiny else (2, 1, 1),
      g_heads=(2, 1, 1) if tiny else (4, 2, 1),
      g_window=7,
      # Critic: a ViT on 7x7 patches, 16 tokens and a class token. Its 64-wide embedding can
      # keep all 49 pixels of a patch, and 4x4 patches (49 tokens) made the gradient penalty's
      # double backward pass 5x slower: two blocks on 7x7 patches cost what one on 4x4 did.
      d_patch=7,
      # transgan_conv.py adds critic="conv" (a convolutional critic) and d_conv_layers.
      d_dim=32 if tiny else 64,
      d_depth=1 if tiny else 2,
      d_heads=2 if tiny else 4,
      mlp_ratio=2.0 if tiny else 4.0,
  ))
  return c
