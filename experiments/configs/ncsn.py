"""NCSN (Song & Ermon 2019): U-Net score network on geometric sigmas, DSM loss, annealed Langevin.

Sigma and sampling settings follow NCSNv2's advice scaled to 28x28 digits in [-1, 1]: sigma_1
near the largest distance between training images, steps sized by step_lr * (sigma_i / sigma_L)^2.

  python -m experiments.main --config=experiments/configs/ncsn.py --workdir=runs/ncsn
  python -m experiments.main --config=experiments/configs/ncsn.py:tiny --workdir=/tmp/ncsn_tiny
"""

import ml_collections

from experiments.configs import common
from experiments.configs.diffusion_base import diffusion


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  """The ncsn experiment; `arg='tiny'` shrinks model and run for tests."""
  tiny = common.is_tiny(arg)
  c = diffusion("ncsn", arg)
  c.learning_rate = 1e-4
  del c.diffusion, c.sampler, c.conditional, c.p_uncond, c.nll_eval_examples
  c.ncsn = ml_collections.ConfigDict(dict(
      sigma_max=30.0,
      sigma_min=0.01,
      num_scales=5 if tiny else 200,
      steps_per_sigma=2 if tiny else 5,
      step_lr=5e-6,
      denoise=True,
  ))
  return c
