"""A tiny trained tokenizer shared by the tests of the models built on it (one per worker)."""

import pytest

from jaxgen.train.loop import train_and_evaluate
from tests.helpers import tiny_config


@pytest.fixture(scope="session")
def tiny_tokenizer(tmp_path_factory) -> str:
  """The workdir of a 40-step tiny vqvae run on the embedded digits."""
  workdir = str(tmp_path_factory.mktemp("tokenizer") / "vqvae")
  train_and_evaluate(tiny_config("vqvae", num_train_steps=40, learning_rate=3e-3), workdir)
  return workdir
