"""The scoring classifiers: pinned (committed parameters) for the embedded data; for other
datasets trained once by the train function the caller passes (the loop's), cached, then
loaded.

This lives beside the loop (not in `jaxgen.metrics`) because training the scorer is a run of
the loop; `jaxgen.metrics.quality.Scorer` only scores. It does not import the loop (whose
evaluation scores with it): `jaxgen.train.loop.trained_scorer` passes the loop in.
"""

import os
from typing import Any, Callable

import jax
import ml_collections
from jax.experimental import multihost_utils

from jaxgen import locks, user_cache
from jaxgen.data.pipeline import SplitData
from jaxgen.metrics import pinned, quality
from jaxgen.train.restore import restore_trained

# (config, workdir) -> metrics: trains an experiment in workdir, resuming (the loop's
# train_and_evaluate).
TrainFn = Callable[[ml_collections.ConfigDict, str], Any]


def held_out_split(reference_split: str) -> str | None:
  """The split of real images for the floor when FCD is scored against `reference_split`.

  Against test (the final report) the floor is drawn from validation, which neither the
  scoring classifier nor the reference has seen. Against validation (training and tuning) no
  such split exists without reading test, which only the report may, so there is no floor.
  """
  if not reference_split.startswith("test"):
    return None
  # A slice of test (the other half, for reconstructions) still takes the whole held-out split.
  return reference_split.replace("test", "validation", 1).split("[")[0]


def trained_scorer(dataset: str, data_dir: str | None, train_split: str, reference_split: str,
                   kind: str, *, train_fn: TrainFn) -> quality.Scorer:
  """The dataset's scoring classifier of `kind` ("cnn": FCD and accuracy; "mlp": the second
  judge) with `reference_split`'s statistics and, where one exists, a held-out split for the
  floor. Pinned parameters are loaded where they exist (jaxgen.metrics.pinned); otherwise the
  classifier is trained once by `train_fn` and cached in the user's cache."""
  config = quality.scorer_config(dataset, data_dir, kind)
  train = SplitData.open(dataset, train_split, data_dir)
  model = quality.scorer_model(config, train.num_classes)
  held_out = held_out_split(reference_split)
  pinned_entry = pinned.entry(dataset, train_split, kind)
  if pinned_entry is not None:
    expected = jax.eval_shape(model.init, jax.random.key(0),
                              jax.ShapeDtypeStruct((1, *train.image_shape), "float32"))["params"]
    params = pinned.load_params(pinned_entry, expected)
  else:
    params = _cached_training(config, dataset, train_split, kind, train_fn)
  return quality.Scorer(
      model, params, train, SplitData.open(dataset, reference_split, data_dir),
      SplitData.open(dataset, held_out, data_dir) if held_out else None,
      pinned=pinned_entry is not None)


def _cached_training(config: ml_collections.ConfigDict, dataset: str, train_split: str,
                     kind: str, train_fn: TrainFn):
  """The parameters of an unpinned scorer, trained by `train_fn` once per machine (cached under
  the user's cache, keyed by SCORER_VERSION, dataset, train split and kind)."""
  # The classifier depends on its train split alone: one training serves every reference split
  # (each Scorer measures its own statistics), so the cache is keyed by it. Its in-training
  # eval then uses a split every caller agrees on.
  default = train_split == "train"
  config.train_split = train_split
  config.eval_split = "validation" if default else train_split
  name = pinned.scorer_name(dataset, train_split, kind)
  workdir = os.path.join(user_cache.root(), "scorers", f"v{quality.SCORER_VERSION}", name)

  def train_once():
    if not os.path.exists(os.path.join(workdir, "checkpoints", str(config.num_train_steps))):
      print(f"training the scoring classifier {name} once, cached in {workdir}", flush=True)
      train_fn(config, workdir)

  if jax.process_count() == 1:
    with locks.exclusive(workdir + ".lock"):  # other runs on this machine wait for it
      train_once()
  else:  # every process takes part in the (collective) training; a lock would deadlock
    multihost_utils.sync_global_devices(f"scorer {name}")
    train_once()
  return restore_trained(workdir).state.params
