"""CNN classifier on the embedded digits; also the feature extractor behind FCD.

  python -m experiments.main --config=experiments/configs/classifier.py --workdir=runs/classifier
"""

import ml_collections

from experiments.configs import common


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  """Classifier config; `arg='tiny'` for a seconds-long run."""
  tiny = common.is_tiny(arg)
  c = common.base(tiny)
  c.family = "classifier"
  c.num_train_steps = 20 if tiny else 1500
  c.eval_every_steps = 10 if tiny else 500
  c.fcd_num_samples = 0
  c.learning_rate = 1e-3
  c.weight_decay = 1e-4
  c.dropout = 0.0 if tiny else 0.3
  c.channels = (8, 16) if tiny else (32, 64)
  c.feature_dim = 32 if tiny else 128
  return c
