"""MinD-Vis stage B: the label-conditioned latent diffusion model fine-tuned to reconstruct the
seen digit from a synthetic fMRI signal (brain_digits/sbj_1), conditioned through the stage-A
encoder by cross-attention and by a pooled embedding added to the time embedding. Only the
encoder, the mappers and the U-Net's cross-attention (with its norms) train. The chain:

  python -m experiments.main --config=experiments/configs/kl_autoencoder.py \\
      --workdir=runs/kl_autoencoder
  python -m experiments.main --config=experiments/configs/ldm.py --workdir=runs/ldm_label \\
      --config.context=label --config.autoencoder_workdir=runs/kl_autoencoder \\
      --config.num_train_steps=1500
  python -m experiments.main --config=experiments/configs/mbm.py --workdir=runs/mbm
  python -m experiments.main --config=experiments/configs/mindvis.py --workdir=runs/mindvis \\
      --config.ldm_workdir=runs/ldm_label --config.mbm_workdir=runs/mbm
  python -m experiments.brain_eval --workdir=runs/mindvis

`--config.mbm_workdir=` (empty) trains the same encoder from scratch (the pretraining
ablation); `--config.shuffle_pairs=True` trains on mismatched pairs (the chance control).
"""

import ml_collections

from experiments.configs import common


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  """The mindvis experiment; `arg='tiny'` shrinks the run for tests."""
  tiny = common.is_tiny(arg)
  c = common.base(tiny)
  c.family = "mindvis"
  c.dataset = "brain_digits/sbj_1"
  c.ldm_workdir = "runs/ldm_label"
  c.mbm_workdir = "runs/mbm"
  # The encoder trained from scratch when mbm_workdir is empty: mbm's default shape.
  c.encoder = ml_collections.ConfigDict(dict(patch=16, dim=32 if tiny else 128,
                                             depth=1 if tiny else 4, num_heads=2 if tiny else 4))
  c.context_tokens = 4 if tiny else 8
  c.sparsify = 0.2
  c.shuffle_pairs = False
  c.learning_rate = 3e-3 if tiny else 3e-4
  c.warmup_steps = 2 if tiny else 100
  c.grad_clip = 1.0
  c.ema_decay = 0.9 if tiny else 0.995
  c.batch_size = 32 if tiny else 64
  c.num_train_steps = 20 if tiny else 1200
  c.eval_every_steps = 10 if tiny else 400
  c.grid_size = 16 if tiny else 50
  c.fcd_num_samples = 0  # scored by experiments.brain_eval on the reconstructions
  # A tenth of the training examples see the null condition instead of their signal (issue
  # 37): guidance then contrasts with a null condition stage B trained, not only the ldm's.
  c.condition_dropout = 0.1
  # Classifier-free guidance against the null condition; w = 8 was the best 10-way top-1 of
  # 1, 2, 4, 8, 16 on validation (0.335, 0.350, 0.372, 0.375, 0.340, four samples of each of
  # the 100 stimuli; experiments/results/brain/validation/w*/brain_eval.json).
  c.sampler = ml_collections.ConfigDict(dict(kind="ddim", num_steps=5 if tiny else 50, eta=0.0,
                                             guidance_scale=0.0 if tiny else 8.0))
  return c
