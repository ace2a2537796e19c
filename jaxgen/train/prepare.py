"""What a training run and a restore share: the data splits a config opens and the shapes of
the state it trains (imported by the loop and by restore, so neither imports the other)."""

from typing import Any

import jax
import ml_collections

from jaxgen.data.pipeline import PairedSplit, SplitData
from jaxgen.train.family import DataSpec, Family


def open_data(config: ml_collections.ConfigDict) -> tuple[Any, Any, DataSpec]:
  """Opens the train and eval splits of `config.dataset` and describes them for the family.

  Two-domain configs name a second split per phase (`train_split_b`, `eval_split_b`).
  """
  data_dir = config.get("data_dir") or None

  def split(key: str, default: str):
    data = SplitData.open(config.dataset, config.get(key, default), data_dir)
    if config.get(key + "_b"):
      data = PairedSplit(data, SplitData.open(config.dataset, config[key + "_b"], data_dir))
    return data

  train, test = split("train_split", "train"), split("eval_split", "validation")
  return train, test, DataSpec(image_shape=train.image_shape, num_classes=train.num_classes,
                  signal_length=getattr(train, "signal_length", 0))


def abstract_state(family: Family, init_rng: jax.Array, example: dict[str, jax.Array],
                   sharding: jax.sharding.Sharding) -> Any:
  """Shapes, dtypes and shardings of the initial state, without computing it."""
  shapes = jax.eval_shape(family.create_state, init_rng, example)
  return jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=sharding), shapes)
