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
  return c
