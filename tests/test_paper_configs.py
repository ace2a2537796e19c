"""`:paper` config variants build the published networks: parameter counts against the papers'
(no training, no data: the state's shapes come from `jax.eval_shape`)."""

import jax
import jax.numpy as jnp
import pytest

from experiments.configs import common
from jaxgen.train.family import DataSpec, make_family


def parameter_count(config_name: str, spec: DataSpec, two_domain: bool = False,
                    per_player: bool = False) -> dict[str, int]:
  """Parameters of the paper variant's initial state, per player (or "all")."""
  import importlib
  config = importlib.import_module(f"experiments.configs.{config_name}").get_config("paper")
  family = make_family(config, spec)
  image = jnp.zeros((2,) + spec.image_shape)
  example = {"image": image, "label": jnp.zeros((2,), jnp.int32)}
  if two_domain:
    example["image_b"] = image
  state = jax.eval_shape(family.create_state, jax.random.key(0), example)
  count = lambda tree: sum(leaf.size for leaf in jax.tree.leaves(tree))
  if two_domain or per_player:
    return {name: count(tree) for name, tree in state.params.items()}
  return {"all": count(state.params)}


def test_ddpm_paper_is_the_35_7m_cifar10_unet_in_bfloat16():
  """Ho et al. 2020, appendix B: "Our CIFAR10 model has 35.7 million parameters"."""
  count = parameter_count("ddpm", DataSpec(image_shape=(32, 32, 3), num_classes=10))["all"]
  assert count == pytest.approx(35.7e6, rel=0.01)
  config = __import__("experiments.configs.ddpm", fromlist=["x"]).get_config("paper")
  assert config.dataset == "cifar10" and config.compute_dtype == "bfloat16"
  assert config.batch_size == 128 and config.diffusion.num_timesteps == 1000


def test_iddpm_paper_builds_the_learned_variance_cifar10_unet():
  count = parameter_count("iddpm", DataSpec(image_shape=(32, 32, 3), num_classes=10))["all"]
  # Our additive time embedding: improved-diffusion's scale-shift norm would add 3.48M.
  assert count == pytest.approx(49.07e6, rel=0.01)


def test_cyclegan_paper_has_the_reference_generator_and_70x70_patchgan():
  """The CycleGAN authors' implementation prints 11.378 M (G) and 2.765 M (D) parameters."""
  counts = parameter_count("cyclegan", DataSpec(image_shape=(256, 256, 3), num_classes=0),
                           two_domain=True)
  # Two generators (A->B, B->A) and two discriminators (one per domain).
  assert set(counts) == {"generator", "discriminator"}, counts  # no semantic classifier
  assert counts["generator"] == pytest.approx(2 * 11.378e6, rel=0.01)
  assert counts["discriminator"] == pytest.approx(2 * 2.765e6, rel=0.01)


def test_paper_is_refused_where_no_variant_exists():
  with pytest.raises(ValueError, match="':tiny' or nothing"):
    common.is_tiny("paper")


@pytest.mark.parametrize("config_name", ["ddpm", "iddpm", "cyclegan", "dcgan", "vampprior"])
def test_paper_variants_hold_out_validation_from_train(config_name):
  """Every paper variant tunes on a slice of train (the published sets have no validation
  split; test is the report's alone), and the loader reads tfds slice syntax: the two slices of
  the embedded digits' train split are disjoint and cover it."""
  import importlib
  import numpy as np
  from jaxgen.data.pipeline import SplitData
  config = importlib.import_module(f"experiments.configs.{config_name}").get_config("paper")
  for suffix in ("", "_b") if config_name == "cyclegan" else ("",):
    train, held_out = config[f"train_split{suffix}"], config[f"eval_split{suffix}"]
    assert train.endswith("[:95%]") and held_out.endswith("[95%:]"), (train, held_out)
    assert train.split("[")[0] == held_out.split("[")[0] and "test" not in held_out
  whole = SplitData.open("embedded_digits", "train")
  parts = [SplitData.open("embedded_digits", s) for s in ("train[:95%]", "train[95%:]")]
  assert sum(len(p.source) for p in parts) == len(whole.source)
  first_held_out = np.asarray(parts[1].source[0]["image"])
  assert any(np.array_equal(first_held_out, np.asarray(whole.source[i]["image"]))
             for i in range(len(parts[0].source), len(whole.source)))


def test_dcgan_paper_has_the_reference_64x64_generator_and_discriminator():
  """pytorch/examples' DCGAN (ngf = ndf = 64, nz = 100) prints 3,576,704 (G) and 2,765,568 (D)
  parameters; ours adds the first convolution's 64 biases and the last layer's 1 (a dense layer
  in place of the 4x4 valid convolution)."""
  counts = parameter_count("dcgan", DataSpec(image_shape=(64, 64, 3), num_classes=1000),
                           per_player=True)
  assert counts["generator"] == 3_576_704
  assert counts["discriminator"] == 2_765_568 + 64 + 1


def test_vampprior_paper_has_the_gated_mlp_and_500_pseudo_inputs():
  """Tomczak & Welling's MNIST VampPrior as their code builds it: GatedDense 784-300-300 to
  40-dimensional mean and log-variance, GatedDense 40-300-300 to 784 pixel logits, and 500
  pseudo-inputs of 784 pixels: 1,116,864 network and 392,000 pseudo-input parameters."""
  count = parameter_count("vampprior", DataSpec(image_shape=(28, 28, 1), num_classes=10))["all"]
  gated = lambda n_in, n_out: 2 * (n_in * n_out + n_out)
  encoder = gated(784, 300) + gated(300, 300) + 2 * (300 * 40 + 40)
  decoder = gated(40, 300) + gated(300, 300) + 300 * 784 + 784
  assert count == encoder + decoder + 500 * 784 == 1_508_864
