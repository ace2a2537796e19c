"""A tiny trained KL autoencoder shared by the tests of the models built on it (one per worker)."""

import pytest

from jaxgen.train.loop import train_and_evaluate
from tests.helpers import tiny_config


@pytest.fixture(scope="session")
def tiny_autoencoder(tmp_path_factory) -> str:
  """The workdir of a 30-step tiny kl_autoencoder run on the embedded digits."""
  workdir = str(tmp_path_factory.mktemp("first_stage") / "kl_autoencoder")
  train_and_evaluate(tiny_config("kl_autoencoder"), workdir)
  return workdir
