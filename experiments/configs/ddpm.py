"""DDPM (Ho et al. 2020): linear betas, eps-prediction, L_simple, fixed variance beta_t.

  python -m experiments.main --config=experiments/configs/ddpm.py --workdir=runs/ddpm
  python -m experiments.main --config=experiments/configs/ddpm.py:tiny --workdir=/tmp/ddpm_tiny
"""

import ml_collections

from experiments.configs.diffusion_base import diffusion


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  """The ddpm experiment; `arg='tiny'` shrinks model and run for tests."""
  c = diffusion("ddpm", arg)
  if arg == "paper":
    return c  # DDPM's own CIFAR-10 shape and rate (diffusion_base.paper_shape)
  # The shared digits default (diffusion_base): cfg's budget, so classifier guidance of this
  # model and CFG compare like for like.
  return c
