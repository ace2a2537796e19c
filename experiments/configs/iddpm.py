"""Improved DDPM (Nichol & Dhariwal 2021): cosine betas, learned-range variance, hybrid loss.

  python -m experiments.main --config=experiments/configs/iddpm.py --workdir=runs/iddpm
  python -m experiments.main --config=experiments/configs/iddpm.py:tiny --workdir=/tmp/iddpm_tiny
"""

import ml_collections

from experiments.configs.diffusion_base import diffusion


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  """The iddpm experiment; `arg='tiny'` shrinks model and run for tests."""
  c = diffusion("ddpm", arg)
  c.diffusion.schedule = "cosine"
  c.diffusion.var_type = "learned_range"
  c.diffusion.loss_type = "hybrid"  # L_simple + 0.001 L_vlb
  # Improved DDPM samples ancestrally on strided steps with its learned variances (sec. 4):
  # DDIM ignores them. `--setting=ddpm:1000` in a report gives its full-T figure.
  c.sampler.kind = "ddpm"
  if arg == "paper":
    # Improved DDPM's CIFAR-10 model (Nichol & Dhariwal 2021; improved-diffusion's README flags):
    # 3 residual blocks a level, attention at 16x16 and 8x8, dropout 0.3, T = 4000, lr 1e-4,
    # batch 128, 500k steps. Their residual blocks condition by scale-shift norm; ours add the
    # time embedding (DDPM's): 49.1M parameters; their scale-shift projections add 3.5M.
    c.model.num_res_blocks, c.model.attention_resolutions = 3, (16, 8)
    c.model.dropout = 0.3
    c.diffusion.num_timesteps = 4000
    c.learning_rate, c.warmup_steps, c.num_train_steps = 1e-4, 0, 500_000
  return c
