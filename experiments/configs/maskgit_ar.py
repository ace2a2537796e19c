"""The autoregressive baseline of MaskGIT: the same transformer shape, trained causally on the
same tokenizer's codes in raster order, decoded one code per call with a key/value cache.

  python -m experiments.main --config=experiments/configs/maskgit_ar.py --workdir=runs/maskgit_ar \
      --config.tokenizer_workdir=runs/vqvae
"""

import ml_collections

from experiments.configs import maskgit


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  """The baseline config; `arg='tiny'` for a seconds-long run (give it a tiny tokenizer)."""
  c = maskgit.get_config(arg)
  c.family = "maskgit_ar"
  del c["decode_steps"], c["choice_temperature"]
  return c
