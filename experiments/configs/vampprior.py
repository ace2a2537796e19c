"""VampPrior VAE: prior = mixture of the posterior at K learned pseudo-inputs.

  python -m experiments.main --config=experiments/configs/vampprior.py --workdir=runs/vampprior
  python -m experiments.main --config=experiments/configs/vampprior.py:paper --workdir=runs/vamp300
"""

import ml_collections

from experiments.configs import common
from experiments.configs.autoencoder_base import autoencoder


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  """The vampprior experiment; `arg='tiny'` shrinks model and run for tests, `arg='paper'` is
  the paper's MNIST model."""
  paper = arg == "paper"
  common.is_tiny(arg, has_paper=True)  # refuses unknown arguments
  c = autoencoder("vampprior", None if paper else arg)
  if paper:
    # Tomczak & Welling 2018, section 4 and their code (jmtomczak/vae_vampprior): gated MLPs of
    # two 300-unit layers each way, 40 latent dimensions, K = 500 pseudo-inputs (one learned
    # 784-pixel image each), dynamically binarised MNIST, batch 100, Adam 5e-4; 2000 epochs
    # at most (they stop early after 50 without progress). 1.509M parameters.
    common.paper_run(c, "mnist", batch_size=100, num_train_steps=1_200_000,
                     compute_dtype="float32")
    c.architecture = "gated_mlp"
    c.latent_dim, c.hidden, c.num_pseudo_inputs = 40, 300, 500
    c.learning_rate = 5e-4
    c.iw_samples = 5000  # the paper's test log-likelihood: 5000 importance samples
  return c
