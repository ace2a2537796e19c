"""Classifier-free guidance (Ho & Salimans 2022): one class-conditional DDPM trained with labels
dropped to the null class 10% of the time; sampled with eps = (1 + w) eps(x, y) - w eps(x).

  python -m experiments.main --config=experiments/configs/cfg.py --workdir=runs/cfg
  python -m experiments.main --config=experiments/configs/cfg.py:tiny --workdir=/tmp/cfg_tiny
"""

import ml_collections

from experiments.configs import common
from experiments.configs.diffusion_base import diffusion


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  """The cfg experiment; `arg='tiny'` shrinks model and run for tests."""
  tiny = common.is_tiny(arg)
  c = diffusion("ddpm", arg)
  # ddpm's budget and rate (diffusion_base); at 1200 steps and lr 5e-4 only 27.6% of w=1
  # samples showed their label: the label pathway needs the higher rate in a short run.
  c.conditional = True
  c.p_uncond = 0.1
  c.sampler.guidance_scale = 1.0  # w; 0 samples the plain conditional model
  return c
