"""Sample quality on a trained CNN classifier: Fréchet Classifier Distance and conditional accuracy.

FCD is FID's formula on the classifier's penultimate features, scored against the test split.
Two reference points computed with the same number of images make every figure readable:
the floor (real train images) and the ceiling (a trivial generator: independent pixels with the
data's per-pixel mean and variance).
"""

import os
from typing import Any

import jax
import jax.numpy as jnp
from jax.experimental import multihost_utils
import ml_collections
import numpy as np

from jaxgen import locks
from jaxgen.data.pipeline import SplitData
from jaxgen.metrics.fcd import frechet_distance, gaussian_fit
from jaxgen.nets.classifier import CNNClassifier


def cache_root() -> str:
  """Where trained scoring classifiers are kept: $JAXGEN_CACHE or ~/.cache/jaxgen."""
  return os.environ.get("JAXGEN_CACHE", os.path.expanduser("~/.cache/jaxgen"))


def scorer_config(dataset: str, data_dir: str | None) -> ml_collections.ConfigDict:
  """The fixed recipe of the scoring classifier: changing it changes every FCD."""
  c = ml_collections.ConfigDict()
  c.family, c.dataset, c.data_dir, c.seed = "classifier", dataset, data_dir or "", 0
  c.batch_size, c.eval_batch_size, c.num_train_steps = 128, 200, 1000
  c.log_every_steps, c.eval_every_steps, c.checkpoint_every_steps = 100, 1000, 1000
  c.max_checkpoints, c.fcd_num_samples, c.grid_size = 1, 0, 0
  c.learning_rate, c.weight_decay, c.dropout = 1e-3, 1e-4, 0.3
  c.channels, c.feature_dim = (16, 32), 128
  return c


def trivial_generator(images: np.ndarray, num: int, seed: int = 0) -> np.ndarray:
  """Independent pixels with the data's per-pixel mean and std (clipped to [0, 1])."""
  mean, std = images.mean(0), images.std(0)
  rng = np.random.default_rng(seed)
  return np.clip(mean + std * rng.standard_normal((num,) + mean.shape), 0, 1).astype(np.float32)


class Scorer:
  """A trained classifier with the test split's feature statistics."""

  def __init__(self, model: CNNClassifier, params: Any, train: SplitData, test: SplitData):
    self._apply = jax.jit(lambda p, x: model.apply({"params": p}, x, return_features=True))
    self._params = params
    self._train_images = train.arrays()["image"]
    test_arrays = test.arrays()
    test_images, self._test_labels = test_arrays["image"], test_arrays["label"]
    logits, feats = self.logits_and_features(test_images)
    self.test_accuracy = float(np.mean(logits.argmax(-1) == self._test_labels))
    self._test_stats = gaussian_fit(feats)
    self._references: dict[int, tuple[float, float]] = {}

  @classmethod
  def for_dataset(cls, dataset: str, data_dir: str | None = None, train_split: str = "train",
                  test_split: str = "test") -> "Scorer":
    """Loads the dataset's scoring classifier, training it once (cached) if needed."""
    from jaxgen.train.loop import train_and_evaluate
    from jaxgen.train.restore import restore_trained
    config = scorer_config(dataset, data_dir)
    # The classifier depends on its train split alone: one training serves every test split
    # (each Scorer measures its own test statistics below), so the cache is keyed by it. Its
    # in-training eval then uses a split every caller agrees on.
    default = train_split == "train"
    config.train_split = train_split
    config.eval_split = test_split if default and test_split == "test" else train_split
    name = dataset if default else f"{dataset}_{train_split}".replace("+", "_and_")
    workdir = os.path.join(cache_root(), "scorers", name)
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
    train = SplitData.open(dataset, train_split, data_dir)
    test = SplitData.open(dataset, test_split, data_dir)
    return cls(model, trained.state.params, train, test)

  def logits_and_features(self, images: np.ndarray, chunk: int = 500):
    """Classifier logits [n, classes] and penultimate features [n, d] of images in [0, 1]."""
    outs = [jax.device_get(self._apply(self._params, jnp.asarray(images[i:i + chunk])))
            for i in range(0, len(images), chunk)]
    return np.concatenate([o[0] for o in outs]), np.concatenate([o[1] for o in outs])

  def accuracy(self, images: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of images [n, h, w, c] that the classifier assigns to `labels` [n]."""
    return float(np.mean(self.logits_and_features(images)[0].argmax(-1) == np.asarray(labels)))

  def fcd(self, images: np.ndarray) -> float:
    """FCD of images [n, h, w, c] in [0, 1] against the test split."""
    return frechet_distance(*gaussian_fit(self.logits_and_features(images)[1]), *self._test_stats)

  def references(self, num: int) -> tuple[float, float]:
    """(floor, ceiling) FCDs for `num` images: real train digits, and the trivial generator."""
    if num not in self._references:
      pick = np.random.default_rng(0).permutation(len(self._train_images))[:num]
      self._references[num] = (self.fcd(self._train_images[pick]),
                               self.fcd(trivial_generator(self._train_images, num)))
    return self._references[num]

  def report(self, samples: np.ndarray, labels: np.ndarray | None = None) -> dict[str, float]:
    """FCD with its floor and ceiling, and conditional accuracy when `labels` are given."""
    floor, ceiling = self.references(len(samples))
    logits, feats = self.logits_and_features(samples)  # [n, classes], [n, d]
    out = {"fcd": frechet_distance(*gaussian_fit(feats), *self._test_stats),
           "fcd_floor": floor, "fcd_ceiling": ceiling, "classifier_test_accuracy": self.test_accuracy}
    if labels is not None:
      out["cond_accuracy"] = float(np.mean(logits.argmax(-1) == np.asarray(labels)))  # [n]
      out["cond_accuracy_chance"] = 1.0 / logits.shape[-1]
    return out

