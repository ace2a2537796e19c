"""TransGAN's generator against a convolutional critic (Durall et al. 2021: a transformer
generator trains against a CNN critic without the transformer critic's tricks): the transgan
recipe with `jaxgen.nets.transgan.ConvCritic` (space-to-depth then a 2x2 convolution written
as a matmul, a stride-2 4x4 convolution's receptive field, from d_dim channels) and no
normalisation (WGAN-GP's penalty scores each image alone).

  python -m experiments.main --config=experiments/configs/transgan_conv.py --workdir=runs/transgan_conv
  python -m experiments.main --config=experiments/configs/transgan_conv.py:tiny --workdir=/tmp/tgc
"""

import ml_collections

from experiments.configs import transgan


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  """The convolutional-critic TransGAN; `arg='tiny'` for a seconds-long run."""
  c = transgan.get_config(arg)
  c.transgan.critic = "conv"
  c.transgan.d_conv_layers = 2 if c.transgan.d_dim < 64 else 3
  return c
