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
  # Jitted: an eager init compiles each initializer op on its own (seconds per kernel shape).
  params = jax.jit(model.init)(jax.random.key(0), jnp.zeros((1, 28, 28, 1)))["params"]
  held_out = scorers.held_out_split(reference_split)
  return Scorer(model, params, SplitData.open(dataset, train_split, data_dir),
                SplitData.open(dataset, reference_split, data_dir),
                SplitData.open(dataset, held_out, data_dir) if held_out else None, num_boot=50)


def trace_train_step_once(monkeypatch, family_module) -> None:
  """Makes `family_module.make_family` return families whose train step fails on a second
  trace (`chex.assert_max_traces`), so a run through the loop proves the step compiles once."""
  import chex
  from jaxgen.train.family import Family
  build = family_module.make_family
  chex.clear_trace_counter()  # the counter is keyed by the function

  def traced_once(config, spec) -> Family:
    family = build(config, spec)
    return Family(**{**family.__dict__,
                     "train_step": chex.assert_max_traces(family.train_step, n=1)})

  monkeypatch.setattr(family_module, "make_family", traced_once)
