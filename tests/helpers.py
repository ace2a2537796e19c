"""Shared test helpers: tiny configs with overrides."""

import importlib

import ml_collections


def tiny_config(name: str, **overrides) -> ml_collections.ConfigDict:
  """experiments/configs/<name>.py at its tiny setting, with `overrides` applied."""
  config = importlib.import_module(f"experiments.configs.{name}").get_config("tiny")
  with config.unlocked():
    for key, value in overrides.items():
      config[key] = value
  return config


def untrained_scorer(dataset: str, data_dir=None, train_split: str = "train",
                     reference_split: str = "validation"):
  """A Scorer on a freshly initialised tiny classifier, standing in for `trained_scorer` where a
  test checks that figures are reported rather than what they are (it trains nothing)."""
  import jax
  import jax.numpy as jnp
  from jaxgen.data.pipeline import SplitData
  from jaxgen.metrics.quality import Scorer
  from jaxgen.nets.classifier import CNNClassifier
  from jaxgen.train import scorers
  cls_config = tiny_config("classifier")
  model = CNNClassifier(num_classes=10, channels=tuple(cls_config.channels),
                        feature_dim=cls_config.feature_dim)
  params = model.init(jax.random.key(0), jnp.zeros((1, 28, 28, 1)))["params"]
  held_out = scorers.held_out_split(reference_split)
  return Scorer(model, params, SplitData.open(dataset, train_split, data_dir),
                SplitData.open(dataset, reference_split, data_dir),
                SplitData.open(dataset, held_out, data_dir) if held_out else None, num_boot=50)
