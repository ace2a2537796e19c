"""DCGAN: transposed-convolution generator with batch norm, strided-convolution discriminator.

  python -m experiments.main --config=experiments/configs/dcgan.py --workdir=runs/dcgan
  python -m experiments.main --config=experiments/configs/dcgan.py:tiny --workdir=/tmp/dcgan_tiny
"""

import ml_collections

from experiments.configs import common
from experiments.configs.gan import gan_base


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  """DCGAN config; `arg='tiny'` for a seconds-long run."""
  tiny = common.is_tiny(arg)
  c = gan_base(tiny)
  c.model = "dcgan"
  # Channels of G's last hidden layer (then 2x, 4x) and of D's first layer (then 2x).
  # 32 rather than the paper's 64: a quarter of the FLOPs, so a run fits minutes on 2 CPU cores.
  c.generator_width = 8 if tiny else 32
  c.discriminator_width = 8 if tiny else 32
  return c
