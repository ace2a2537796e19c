"""The VQ tokenizer at 14x14 codes (196 a digit, one halving instead of two): the longer code
sequence on which MaskGIT's parallel decoding and the autoregressive baseline are timed
against each other (issue 36's crossover), beside the default 7x7 (49 codes).

  python -m experiments.main --config=experiments/configs/vqvae14.py --workdir=runs/vqvae14
  python -m experiments.main --config=experiments/configs/vqvae14.py:tiny --workdir=/tmp/vqvae14
"""

import ml_collections

from experiments.configs import vqvae


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  """The 14x14 tokenizer; `arg='tiny'` for a seconds-long run."""
  c = vqvae.get_config(arg)
  # One stride-2 stage at the default's widest width: each code covers 2x2 pixels.
  c.channels = (c.channels[-1],)
  return c
