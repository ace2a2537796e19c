"""Paella: token diffusion by random code replacement on the VQ tokenizer's codes, with 10%
label dropout for classifier-free guidance and a 12-step predict-and-renoise sampler.

  python -m experiments.main --config=experiments/configs/paella.py --workdir=runs/paella \
      --config.tokenizer_workdir=runs/vqvae
"""

import ml_collections

from experiments.configs import maskgit


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  """Paella config; `arg='tiny'` for a seconds-long run (give it a tiny tokenizer)."""
  c = maskgit.get_config(arg)
  c.family = "paella"
  del c["decode_steps"], c["choice_temperature"]
  c.sample_steps = 12
  c.guidance_scale = 2.0
  return c
