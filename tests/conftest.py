"""Test-wide setup: 4 fake CPU devices so sharding is exercised on every run."""

import os

# Must be set before jax is imported anywhere.
os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=4")
os.environ.setdefault("JAX_PLATFORMS", "cpu")
# Keep tfds quiet and away from the network in tests.
os.environ.setdefault("TFDS_DISABLE_GCS", "1")
os.environ.setdefault("NO_GCE_CHECK", "true")
# The suite's own cache (scripts/test.sh sets it too) holds this machine's measured XLA flags.
os.environ.setdefault("JAXGEN_CACHE", os.path.join(os.path.dirname(__file__), "..", ".cache", "jaxgen"))

from jaxgen import xla_tuning  # noqa: E402 (stdlib only: jax's backend has not started)

xla_tuning.apply(measure_if_unknown=True)


def pytest_configure(config):
  """Shares compiled programs between tests and test processes through JAX's disk cache."""
  from jaxgen import compilation_cache
  compilation_cache.enable()


import pytest  # noqa: E402


@pytest.fixture(scope="session")
def tiny_autoencoder(tmp_path_factory) -> str:
  """The workdir of a 30-step tiny kl_autoencoder run on the embedded digits."""
  from jaxgen.train.loop import train_and_evaluate
  from tests.helpers import tiny_config
  workdir = str(tmp_path_factory.mktemp("first_stage") / "kl_autoencoder")
  train_and_evaluate(tiny_config("kl_autoencoder"), workdir)
  return workdir
