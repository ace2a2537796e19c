"""MinD-Vis stage A: masked brain modelling, a masked autoencoder pretrained on the unpaired
synthetic resting-state frames of one subject (HCP layout, `jaxgen.data.brain`). Patches of 16
voxels get 128-wide tokens (the large embedding per small patch); three quarters are hidden.
Evaluation: masked-patch MSE and correlation on held-out frames.

  python -m experiments.main --config=experiments/configs/mbm.py --workdir=runs/mbm
"""

import ml_collections

from experiments.configs import common


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  """The mbm experiment; `arg='tiny'` shrinks model and run for tests."""
  tiny = common.is_tiny(arg)
  c = common.base(tiny)
  c.family = "mbm"
  c.dataset = "brain_rest/sbj_1"
  c.model = ml_collections.ConfigDict(dict(
      patch=16, dim=32 if tiny else 128, depth=1 if tiny else 4, num_heads=2 if tiny else 4,
      decoder_dim=32 if tiny else 64, decoder_depth=1 if tiny else 2, decoder_heads=2 if tiny else 4))
  c.mask_ratio = 0.75
  c.learning_rate = 1e-3
  c.warmup_steps = 5 if tiny else 200
  c.weight_decay = 0.05
  c.batch_size = 32 if tiny else 64
  c.num_train_steps = 20 if tiny else 3000
  c.eval_every_steps = 10 if tiny else 1000
  c.grid_size = 0
  c.fcd_num_samples = 0
  return c
