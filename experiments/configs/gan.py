"""The original GAN: MLP generator and discriminator, non-saturating loss, on the embedded digits.

  python -m experiments.main --config=experiments/configs/gan.py --workdir=runs/gan
  python -m experiments.main --config=experiments/configs/gan.py:tiny --workdir=/tmp/gan_tiny
"""

import ml_collections

from experiments.configs import common


def gan_base(tiny: bool) -> ml_collections.ConfigDict:
  """Loop keys plus the GAN settings that gan, dcgan and cgan share."""
  c = common.base(tiny)
  c.family = "gan"
  c.dataset = "embedded_digits"
  c.model = "mlp"
  c.conditional = False
  c.loss = "non_saturating"
  c.latent_dim = 16 if tiny else 64
  c.learning_rate = 2e-4
  c.adam_b1 = 0.5  # DCGAN's recommendation; 0.9 makes the two players oscillate
  # The same budget for the MLP GAN, DCGAN and CGAN, so their figures compare.
  c.batch_size = 32 if tiny else 64
  c.num_train_steps = 20 if tiny else 4000
  c.eval_every_steps = 10 if tiny else 2000
  return c


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  """MLP GAN config; `arg='tiny'` for a seconds-long run."""
  tiny = common.is_tiny(arg)
  c = gan_base(tiny)
  # Hidden widths: G is (w, 2w), D is (2w, w).
  c.generator_width = 32 if tiny else 256
  c.discriminator_width = 32 if tiny else 256
  return c
