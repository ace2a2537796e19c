"""How a model family plugs into the one train loop.

A family module exposes `make_family(config, data_spec) -> Family`. The loop owns the
mesh, data, jit, checkpoints, logging and evaluation; the family provides pure functions.

Batches are dicts of arrays: "image" float32 [batch, h, w, c] scaled to [0, 1], "label" int32
[batch] (and for two-domain data "image_b"). Families rescale as they need (e.g. to [-1, 1]).
"""

import dataclasses
import importlib
from typing import Any, Callable, Mapping

import jax
import ml_collections

from jaxgen.errors import UserError
from jaxgen.train.state import TrainState

Batch = Mapping[str, jax.Array]
Metrics = dict[str, jax.Array]


@dataclasses.dataclass(frozen=True)
class DataSpec:
  """What a family needs to know about its data before it builds networks."""

  image_shape: tuple[int, int, int]  # (h, w, c); (0, 0, 0) for signal-only data
  num_classes: int
  signal_length: int = 0  # voxels of brain signals ("signal" [batch, voxels]), 0 without


@dataclasses.dataclass(frozen=True)
class Family:
  """The pure functions a model family gives the loop.

  Attributes:
    create_state: (rng, example_batch) -> TrainState with initial params.
    train_step: (state, batch, rng) -> (state, metrics); jitted once by the loop.
    eval_step: (state, batch, rng) -> metrics, each a scalar (a batch mean) or one value per
      image [batch] (then the loop reports the split mean and its standard error `<name>_se`);
      jitted by the loop.
    sample: (state, rng, num, labels or None) -> images float32 [num, h, w, c] in [0, 1], or
      None for families that do not generate (the classifier).
    reconstruct: optional (state, batch, rng) -> images [batch, h, w, c] in [0, 1] for grids.
    conditional: whether `sample` uses labels.
    evaluate: optional (state, split_batches, rng) -> host metrics computed once per eval over
      the whole split (e.g. importance-weighted likelihood), beyond the per-batch means.
    translate: optional (state, images, direction "ab" or "ba") -> images in [0, 1], for
      two-domain models (CycleGAN): the loop draws A | G(A) | F(G(A)) grids and scores whether
      the classifier of the target domain still recognises each translated image's label.
    nll_per_image: optional (state, split, rng, num) -> float [num], the family's best NLL
      estimate (or bound) of each of the first `num` images of a split, in `nll_unit`;
      -log p(x|y) when `conditional`. `experiments.report` reports its mean and standard error.
    nll_unit: "bits/dim" or "nats" (per image).
    vlb_terms: optional (state, images [b, h, w, c] in [0, 1], labels [b] or None, rng) ->
      every term of a diffusion model's variational bound per image, as host arrays
      ("total_bpd" [b], "prior_bpd" [b], "vb" [b, T], "mse" [b, T]); experiments.vlb_terms.
    network_calls: optional (**sampler options) -> how many network calls `sample` makes one
      after another (the latency that batching cannot hide); the decoding-cost table reports it.
    grad_accum: whether `train_step` honours config.grad_accum_steps (microbatches scanned
      into one update, `jaxgen.train.accumulate`); the loop refuses the key otherwise.
  """

  create_state: Callable[[jax.Array, Batch], TrainState]
  train_step: Callable[[TrainState, Batch, jax.Array], tuple[TrainState, Metrics]]
  eval_step: Callable[[TrainState, Batch, jax.Array], Metrics]
  sample: Callable[..., jax.Array] | None = None
  reconstruct: Callable[[TrainState, Batch, jax.Array], jax.Array] | None = None
  conditional: bool = False
  evaluate: Callable[..., dict[str, float]] | None = None
  translate: Callable[[TrainState, jax.Array, str], jax.Array] | None = None
  nll_per_image: Callable[..., Any] | None = None
  nll_unit: str = ""
  vlb_terms: Callable[..., dict[str, Any]] | None = None
  network_calls: Callable[..., int] | None = None
  grad_accum: bool = False


# Family name (config.family) -> module path providing make_family(config, data_spec).
REGISTRY: dict[str, str] = {
    "classifier": "jaxgen.classifier.family",
    "gan": "jaxgen.gan.family",  # MLP GAN, DCGAN, conditional GAN (config.model, .conditional)
    "cyclegan": "jaxgen.gan.family",
    # DDPM, improved DDPM and classifier-free guidance (config.diffusion, .conditional, .p_uncond)
    "ddpm": "jaxgen.diffusion.family",
    "ncsn": "jaxgen.diffusion.family",  # score-based, annealed Langevin sampling
    "noisy_classifier": "jaxgen.diffusion.family",  # for classifier guidance (no sampler)
    "vae": "jaxgen.vae.family",  # ae, vae, cvae, vampprior (config.variant)
    "vqvae": "jaxgen.tokens.family",  # the VQ tokenizer of MaskGIT and Paella
    "maskgit": "jaxgen.tokens.maskgit_family",  # on a trained vqvae (config.tokenizer_workdir)
    "maskgit_ar": "jaxgen.tokens.autoregressive_family",  # MaskGIT's autoregressive baseline
    "paella": "jaxgen.tokens.paella_family",  # token diffusion on a trained vqvae
    "kl_autoencoder": "jaxgen.latent.autoencoder",  # latent diffusion's first stage
    "ldm": "jaxgen.latent.ldm_family",  # on a trained kl_autoencoder (config.autoencoder_workdir)
    "diffae": "jaxgen.latent.diffae_family",  # Diffusion Autoencoder: z_sem and DDIM-inverted x_T
    "diffae_latent": "jaxgen.latent.diffae_latent_family",  # latent DDIM over a diffae's z_sem
    "mbm": "jaxgen.brain.mbm_family",  # MinD-Vis stage A: masked autoencoder on brain signals
    "mindvis": "jaxgen.brain.mindvis_family",  # stage B: an ldm conditioned on an mbm encoder
}


def make_family(config: ml_collections.ConfigDict, data_spec: DataSpec) -> Family:
  """Builds the family named by `config.family`."""
  name = config.family
  if name not in REGISTRY:
    raise UserError(f"unknown model family {name!r}; known families: {', '.join(sorted(REGISTRY))}")
  module: Any = importlib.import_module(REGISTRY[name])
  return module.make_family(config, data_spec)
