"""NCSN (Song & Ermon 2019) with NCSNv2's techniques (Song & Ermon 2020, ermongroup/ncsnv2):
U-Net score network on geometric sigmas, DSM loss, annealed Langevin, EMA, a final denoising step.

The default follows NCSNv2 for 28x28 digits in [-1, 1] (the figures come from
`jaxgen.diffusion.score.ncsnv2_sigmas` on the embedded training split; a test holds them to it):
  technique 1: sigma_1 = 31.2, the largest distance between two training digits;
  technique 2: 104 levels down to sigma_L = 0.01, the ratio 1.082 from the Phi condition (D = 784);
  technique 3: the network's output divided by sigma is the score (jaxgen.diffusion.score);
  technique 4: step_lr 1.1e-5 at 5 steps a level, the minimiser of the variance-ratio condition;
  technique 5: EMA of the weights (ema_decay), and x + sigma_L^2 s(x) at the end.
Samples are drawn by predictor-corrector sampling (Song et al. 2021), chosen on validation over
annealed Langevin at technique 4's step, which left broken, speckled strokes.
`:paper` is Song & Ermon 2019's own recipe on the same network: 10 levels from 1 to 0.01,
100 Langevin steps a level at step_lr 2e-5 (their appendix B).

  python -m experiments.main --config=experiments/configs/ncsn.py --workdir=runs/ncsn
  python -m experiments.main --config=experiments/configs/ncsn.py:paper --workdir=runs/ncsn_v1
  python -m experiments.main --config=experiments/configs/ncsn.py:tiny --workdir=/tmp/ncsn_tiny
"""

import ml_collections

from experiments.configs import common
from experiments.configs.diffusion_base import diffusion


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  """The ncsn experiment; `arg='tiny'` shrinks model and run for tests, `arg='paper'` takes
  NCSN's original sigmas and sampler."""
  tiny = common.is_tiny(arg, has_paper=True)
  c = diffusion("ncsn", None if arg == "paper" else arg)  # the digits U-Net either way
  del c.diffusion, c.sampler, c.conditional, c.p_uncond, c.nll_eval_examples
  c.ncsn = ml_collections.ConfigDict(dict(
      sigma_max=31.2,
      sigma_min=0.01,
      num_scales=5 if tiny else 104,
      steps_per_sigma=2 if tiny else 5,
      step_lr=1.1e-5,
      denoise=True,
      # The sampler, chosen on validation (n=200; experiments/results/validation/
      # ncsn_samplers.json): predictor-corrector with one Langevin corrector step a level at
      # snr 0.16 (Song et al. 2021's VE figure), FCD 142.7 against 346.6 for annealed Langevin
      # at technique 4's step (steps_per_sigma and step_lr above, still what "als" takes) and
      # 160.3 for the ancestral predictor alone; 208 network calls an image against 520.
      sampler="pc",
      corrector_steps=1,
      snr=0.16,
  ))
  # Each sample takes 2 * num_scales = 208 network calls (four times DDIM-50): one FCD of 200
  # samples at the end of the run (experiments.report scores 500 on test).
  c.eval_every_steps = c.num_train_steps
  c.fcd_num_samples = 0 if tiny else 200
  if arg == "paper":
    c.ncsn.update(sigma_max=1.0, num_scales=10, steps_per_sigma=100, step_lr=2e-5, sampler="als")
  return c
