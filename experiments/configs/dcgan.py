"""DCGAN: transposed-convolution generator with batch norm, strided-convolution discriminator.

  python -m experiments.main --config=experiments/configs/dcgan.py --workdir=runs/dcgan
  python -m experiments.main --config=experiments/configs/dcgan.py:tiny --workdir=/tmp/dcgan_tiny
  python -m experiments.main --config=experiments/configs/dcgan.py:paper --workdir=runs/dcgan64
"""

import ml_collections

from experiments.configs import common
from experiments.configs.gan import gan_base


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  """DCGAN config; `arg='tiny'` for a seconds-long run, `arg='paper'` for the 64x64 shape."""
  tiny = common.is_tiny(arg, has_paper=True)
  c = gan_base(tiny)
  c.model = "dcgan"
  # Channels of G's last hidden layer (then 2x, 4x) and of D's first layer (then 2x).
  # 32 rather than the paper's 64: a quarter of the FLOPs, so a run fits minutes on 2 CPU cores.
  c.generator_width = 8 if tiny else 32
  c.discriminator_width = 8 if tiny else 32
  if arg == "paper":
    # Radford et al. 2015, figure 1 and section 4, at the width of the reference PyTorch
    # implementation (pytorch/examples dcgan, ngf = ndf = 64): noise 100 projected to 4x4x512,
    # four 4x4/2 transposed convolutions to 64x64x3 (3.577M parameters), a discriminator of
    # four 4x4/2 convolutions, 64 to 512 channels (2.766M); batch 128, Adam 2e-4, beta1 0.5.
    # The paper's LSUN bedrooms need resizing, which the pipeline does not do; tfds'
    # 64x64 downsampled ImageNet (the paper also trains on ImageNet) has the shape as stored.
    # Five epochs of its 1.28M images.
    common.paper_run(c, "downsampled_imagenet/64x64", batch_size=128, num_train_steps=50_000,
                     compute_dtype="float32")
    c.latent_dim = 100
    c.generator_width = c.discriminator_width = 64
    c.num_doublings, c.upsample_to_image, c.discriminator_layers = 4, True, 4
  return c
