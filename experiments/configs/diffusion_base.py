"""Settings shared by the diffusion configs (ddpm, iddpm, cfg, ncsn, noisy_classifier)."""

import ml_collections

from experiments.configs import common


def unet(tiny: bool) -> ml_collections.ConfigDict:
  """U-Net fields for 28x28 digits: 28 -> 14 -> 7.

  Chosen by a measured search on validation (issue 35; `python -m experiments.tune_unet`,
  experiments/results/validation/tune_unet.png): at equal training minutes on 2 cores, 24
  channels with one residual block a level and attention only in the middle block (0.60M
  parameters, 0.39 s a batch-64 step) reached a lower validation FCD than the earlier 32
  channels with attention at 7x7 (1.1M, 0.58 s) and than 16 channels with multipliers (1, 2, 4)
  (0.64M, 0.28 s): 216 against 445 and 312 after about 11 minutes. The DDPM paper's CIFAR shape
  (about 8x slower) is `--config.model.base_channels=64 --config.model.num_res_blocks=2
  --config.model.attention_resolutions=14 --config.model.dropout=0.1` for an accelerator.
  """
  return ml_collections.ConfigDict(dict(
      base_channels=16 if tiny else 24,
      channel_mult=(1, 2) if tiny else (1, 2, 2),
      num_res_blocks=1,
      attention_resolutions=(14,) if tiny else (),
      dropout=0.0,
      head_dim=16 if tiny else 32,
  ))


def diffusion(family: str, arg: str | None) -> ml_collections.ConfigDict:
  """A DDPM-family config (Ho et al. 2020 defaults) to be specialised by each experiment."""
  tiny = common.is_tiny(arg, has_paper=True)
  c = common.base(tiny)
  c.family = family
  # A short CPU budget (see unet()): a higher rate than DDPM's 2e-4, a shorter warmup and EMA.
  c.learning_rate = 1e-3
  c.warmup_steps = 5 if tiny else 200
  c.grad_clip = 1.0
  c.ema_decay = 0.9 if tiny else 0.995
  c.batch_size = 32 if tiny else 64
  # 5000 steps at about 0.4 s: some 33 minutes on 2 cores, in the 40-minute budget.
  c.num_train_steps = 20 if tiny else 5000
  c.eval_every_steps = 10 if tiny else 2500
  c.checkpoint_every_steps = 10 if tiny else 500
  c.fcd_num_samples = 0 if tiny else 500
  c.model = unet(tiny)
  c.diffusion = ml_collections.ConfigDict(dict(
      num_timesteps=50 if tiny else 1000,
      schedule="linear",
      mean_type="eps",  # eps | x0 | v
      var_type="fixed_large",  # fixed_large | fixed_small | learned_range
      loss_type="mse",  # mse | hybrid | kl
      hybrid_lambda=1e-3,
      clip_x0=True,
  ))
  # Grids and FCD during training use DDIM on a respaced schedule, far cheaper than 1000 steps;
  # experiments/sample.py can pick kind="ddpm" and num_steps=1000 for the full chain.
  c.sampler = ml_collections.ConfigDict(dict(kind="ddim", num_steps=5 if tiny else 50, eta=0.0,
                                             guidance_scale=0.0))
  c.conditional = False
  c.p_uncond = 0.0
  # The NLL bound on this many eval images at each eval, with its standard error (0: only the
  # one-t estimate `nll_bpd_one_t` of eval_step, whose error is about 1 bit/dim; do not compare
  # models with it). nll_estimator "importance": the first nll_exact_terms terms exactly and
  # nll_draws importance-sampled t per image; "full": all T terms. experiments.report sets its own.
  c.nll_eval_examples = 0
  c.nll_estimator = "importance"
  c.nll_exact_terms = 8
  c.nll_draws = 24
  if arg == "paper":
    paper_shape(c)
  return c


def paper_shape(c: ml_collections.ConfigDict) -> None:
  """DDPM's CIFAR-10 model and run (Ho et al. 2020, appendix B): a 35.7M-parameter U-Net of
  128 channels, multipliers (1, 2, 2, 2), two residual blocks a level, self-attention at 16x16,
  dropout 0.1; T = 1000, lr 2e-4 with 5000 warmup steps, batch 128, 800k steps, EMA 0.9999."""
  common.paper_run(c, "cifar10", batch_size=128, num_train_steps=800_000)
  c.model = ml_collections.ConfigDict(dict(base_channels=128, channel_mult=(1, 2, 2, 2),
                                           num_res_blocks=2, attention_resolutions=(16,),
                                           dropout=0.1, head_dim=256))
  c.learning_rate, c.warmup_steps, c.ema_decay = 2e-4, 5000, 0.9999
  c.diffusion.num_timesteps = 1000
