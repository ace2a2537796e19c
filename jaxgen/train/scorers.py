"""The scoring classifiers: trained once per dataset through the loop, cached, then loaded.

This lives beside the loop (not in `jaxgen.metrics`) because training the scorer is a run of
the loop; `jaxgen.metrics.quality.Scorer` only scores.
"""

import os

import jax
from jax.experimental import multihost_utils

from jaxgen import locks, user_cache
from jaxgen.data.pipeline import SplitData
from jaxgen.metrics import quality
from jaxgen.nets.classifier import CNNClassifier


def held_out_split(reference_split: str) -> str | None:
  """The split of real images for the floor when FCD is scored against `reference_split`.

  Against test (the final report) the floor is drawn from validation, which neither the
  scoring classifier nor the reference has seen. Against validation (training and tuning) no
  such split exists without reading test, which only the report may, so there is no floor.
  """
  return reference_split.replace("test", "validation", 1) if reference_split.startswith(
      "test") else None


def trained_scorer(dataset: str, data_dir: str | None = None, train_split: str = "train",
                   reference_split: str = "validation") -> quality.Scorer:
  """Loads the dataset's scoring classifier, training it once (cached) if needed, with
  `reference_split`'s statistics and, where one exists, a held-out split for the floor."""
  from jaxgen.train.loop import train_and_evaluate  # the loop's evaluation imports this module
  from jaxgen.train.restore import restore_trained
  config = quality.scorer_config(dataset, data_dir)
  # The classifier depends on its train split alone: one training serves every reference split
  # (each Scorer measures its own statistics), so the cache is keyed by it. Its in-training
  # eval then uses a split every caller agrees on.
  default = train_split == "train"
  config.train_split = train_split
  config.eval_split = "validation" if default else train_split
  name = dataset if default else f"{dataset}_{train_split}".replace("+", "_and_")
  workdir = os.path.join(user_cache.root(), "scorers", f"v{quality.SCORER_VERSION}", name)

  def train_once():
    if not os.path.exists(os.path.join(workdir, "checkpoints", str(config.num_train_steps))):
      print(f"training the scoring classifier for {dataset} once, cached in {workdir}",
            flush=True)
      train_and_evaluate(config, workdir)

  if jax.process_count() == 1:
    with locks.exclusive(workdir + ".lock"):  # other runs on this machine wait for it
      train_once()
  else:  # every process takes part in the (collective) training; a lock would deadlock
    multihost_utils.sync_global_devices(f"scorer {name}")
    train_once()
  trained = restore_trained(workdir)
  model = CNNClassifier(num_classes=trained.spec.num_classes, channels=tuple(config.channels),
                        feature_dim=config.feature_dim)
  held_out = held_out_split(reference_split)
  return quality.Scorer(
      model, trained.state.params, SplitData.open(dataset, train_split, data_dir),
      SplitData.open(dataset, reference_split, data_dir),
      SplitData.open(dataset, held_out, data_dir) if held_out else None)
