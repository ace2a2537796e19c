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
