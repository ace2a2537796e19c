"""Test-wide setup: 4 fake CPU devices so sharding is exercised on every run."""

import os

# Must be set before jax is imported anywhere.
os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=4")
os.environ.setdefault("JAX_PLATFORMS", "cpu")
# Keep tfds quiet and away from the network in tests.
os.environ.setdefault("TFDS_DISABLE_GCS", "1")
os.environ.setdefault("NO_GCE_CHECK", "true")
# This machine's measured XLA flags and the compilation cache live in the user's cache
# (jaxgen.user_cache: $JAXGEN_CACHE, else $XDG_CACHE_HOME/jaxgen, else ~/.cache/jaxgen), shared
# by checkouts and runs.

from jaxgen import xla_tuning  # noqa: E402 (stdlib only: jax's backend has not started)

xla_tuning.apply(measure_if_unknown=True)


def pytest_configure(config):
  """Shares compiled programs between tests and test processes through JAX's disk cache."""
  from jaxgen import compilation_cache
  compilation_cache.enable()


import pytest  # noqa: E402


@pytest.fixture(scope="session")
def tiny_autoencoder(tmp_path_factory) -> str:
  """The workdir of a 30-step tiny kl_autoencoder run on the embedded digits (one per run)."""
  from tests.helpers import shared_run, tiny_config
  return shared_run(tmp_path_factory, "kl_autoencoder", tiny_config("kl_autoencoder"))


@pytest.fixture(scope="session")
def tiny_tokenizer(tmp_path_factory) -> str:
  """The workdir of a 40-step tiny vqvae run on the embedded digits (one per run)."""
  from tests.helpers import shared_run, tiny_config
  return shared_run(tmp_path_factory, "vqvae",
                    tiny_config("vqvae", num_train_steps=40, learning_rate=3e-3))


@pytest.fixture(scope="session")
def digit_scorer_workdir(tmp_path_factory) -> str:
  """The workdir of the suite's one tiny digit classifier (60 steps, trained once per run): the
  stand-in for the cached scoring classifier wherever a test needs a trained scorer."""
  from tests.helpers import shared_run, tiny_config
  return shared_run(tmp_path_factory, "digit_scorer",
                    tiny_config("classifier", num_train_steps=60, eval_every_steps=60))


@pytest.fixture(scope="session")
def digit_scorer(digit_scorer_workdir):
  """A Scorer on the suite's tiny digit classifier, with test as the reference and validation
  as the held-out floor, as `experiments.report` scores."""
  from jaxgen.data.pipeline import SplitData
  from jaxgen.metrics.quality import Scorer
  from jaxgen.nets.classifier import CNNClassifier
  from jaxgen.train.restore import restore_trained
  trained = restore_trained(digit_scorer_workdir)
  config = trained.config
  model = CNNClassifier(num_classes=10, channels=tuple(config.channels),
                        feature_dim=config.feature_dim)
  return Scorer(model, trained.state.params, SplitData.open("embedded_digits", "train"),
                SplitData.open("embedded_digits", "test"),
                SplitData.open("embedded_digits", "validation"))
