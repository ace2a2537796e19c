"""Sample quality on a trained CNN classifier: Fréchet Classifier Distance and conditional accuracy.

FCD is FID's formula on the classifier's penultimate features, scored against a reference
split's statistics (validation while training and tuning, test in the final report). Two
reference points at the same number of images make every figure readable:
- the floor: real digits that the classifier never trained on and that are not in the
  reference split (validation digits when the reference is test), so it is what a perfect
  generator would score at that n; a model can only sit below it by chance, within the
  intervals;
- the ceiling: a trivial generator (independent pixels with the train split's per-pixel mean
  and variance).
Every FCD comes with its bootstrap sd over the scored images, every accuracy with its Wilson
interval. The scoring classifiers of the embedded data are pinned: their parameters are
committed with their digests (`jaxgen.metrics.pinned`), so every machine scores on one scale;
other datasets' scorers are trained once and cached by `jaxgen.train.scorers`. This module only
scores. Every report names its scorer by the digest of its parameters.
"""

import hashlib
from typing import Any

import flax
import flax.linen as nn

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxgen.data.pipeline import SplitData
from jaxgen.metrics.fcd import fcd_and_sd, frechet_distance, gaussian_fit
from jaxgen.metrics.intervals import Z95, wilson_interval
from jaxgen.nets.classifier import CNNClassifier, MLPClassifier

# Bumped whenever the scorer's training data or recipe changes, so cached scorers are not reused
# across such changes (2: embedded_digits 2.0.0 moved 500 train digits to validation).
SCORER_VERSION = 2
# The scorer's kinds: "cnn" scores FCD and conditional accuracy; "mlp", a classifier on pixels,
# is the second judge that reads the same samples (a model tuned against convolutional
# features would pass the first judge alone).
SCORER_KINDS = ("cnn", "mlp")


def scorer_config(dataset: str, data_dir: str | None,
                  kind: str = "cnn") -> ml_collections.ConfigDict:
  """The fixed recipe of a scoring classifier: changing it changes every FCD."""
  if kind not in SCORER_KINDS:
    raise ValueError(f"unknown scorer kind {kind!r}; known: {', '.join(SCORER_KINDS)}")
  c = ml_collections.ConfigDict()
  c.family, c.dataset, c.data_dir, c.seed = "classifier", dataset, data_dir or "", 0
  c.batch_size, c.eval_batch_size, c.num_train_steps = 128, 200, 1000
  c.log_every_steps, c.eval_every_steps, c.checkpoint_every_steps = 100, 1000, 1000
  c.max_checkpoints, c.fcd_num_samples, c.grid_size = 1, 0, 0
  c.learning_rate, c.weight_decay, c.dropout = 1e-3, 1e-4, 0.3
  c.model, c.feature_dim = kind, 128
  if kind == "cnn":
    c.channels = (16, 32)
  else:
    c.hidden = (256,)
  return c


def scorer_model(config: ml_collections.ConfigDict, num_classes: int) -> nn.Module:
  """The network of a scorer recipe (`scorer_config`), for `num_classes` classes."""
  if config.get("model", "cnn") == "mlp":
    return MLPClassifier(num_classes=num_classes, hidden=tuple(config.hidden),
                         feature_dim=config.feature_dim)
  return CNNClassifier(num_classes=num_classes, channels=tuple(config.channels),
                       feature_dim=config.feature_dim)


def params_digest(params: Any) -> str:
  """sha256 (hex) of the parameters' msgpack bytes: the scorer's name in every record."""
  return hashlib.sha256(flax.serialization.msgpack_serialize(
      jax.tree.map(np.asarray, jax.device_get(params)))).hexdigest()


def trivial_generator(images: np.ndarray, num: int, seed: int = 0) -> np.ndarray:
  """Independent pixels with the data's per-pixel mean and std (clipped to [0, 1])."""
  mean, std = images.mean(0), images.std(0)
  rng = np.random.default_rng(seed)
  return np.clip(mean + std * rng.standard_normal((num,) + mean.shape), 0, 1).astype(np.float32)


class Scorer:
  """A trained classifier with a reference split's feature statistics.

  `train` is the split the classifier trained on (only its pixel statistics are used, for the
  ceiling); `reference` gives the FCD statistics and the classifier's accuracy; `held_out`,
  when given, holds real images disjoint from both, from which the floor is drawn.
  """

  def __init__(self, model: nn.Module, params: Any, train: SplitData, reference: SplitData,
               held_out: SplitData | None = None, num_boot: int = 200, pinned: bool = False):
    self.digest = params_digest(params)  # which scorer: records carry it
    self.pinned = pinned  # committed parameters (one scale on every machine)
    self.kind = "mlp" if isinstance(model, MLPClassifier) else "cnn"
    self._apply = jax.jit(lambda p, x: model.apply({"params": p}, x, return_features=True))
    self._params = params
    self._num_boot = num_boot
    self._train_images = train.arrays()["image"]
    self.image_shape = tuple(self._train_images.shape[1:])  # [h, w, c] it reads
    ref_arrays = reference.arrays()
    ref_images, ref_labels = ref_arrays["image"], ref_arrays["label"]
    logits, feats = self.logits_and_features(ref_images)
    self.reference_accuracy = float(np.mean(logits.argmax(-1) == ref_labels))
    self.test_accuracy = self.reference_accuracy  # the name the loop's metrics have always used
    self.reference_size = len(ref_images)
    self._ref_stats = gaussian_fit(feats)
    self.reference_features = feats  # [n, d]: a paired FCD comparison resamples them
    self._held_out = None if held_out is None else held_out.arrays()["image"]
    self._references: dict[int, dict[str, float]] = {}

  @property
  def max_floor_samples(self) -> int:
    """The largest n at which the floor can be measured (0 without held-out images)."""
    return 0 if self._held_out is None else len(self._held_out)

  def logits_and_features(self, images: np.ndarray, chunk: int = 500):
    """Classifier logits [n, classes] and penultimate features [n, d] of images in [0, 1]."""
    outs = [jax.device_get(self._apply(self._params, jnp.asarray(images[i:i + chunk])))
            for i in range(0, len(images), chunk)]
    return np.concatenate([o[0] for o in outs]), np.concatenate([o[1] for o in outs])

  def accuracy(self, images: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of images [n, h, w, c] that the classifier assigns to `labels` [n]."""
    return float(np.mean(self.logits_and_features(images)[0].argmax(-1) == np.asarray(labels)))

  def fcd(self, images: np.ndarray) -> float:
    """FCD of images [n, h, w, c] in [0, 1] against the reference split."""
    return frechet_distance(*gaussian_fit(self.logits_and_features(images)[1]), *self._ref_stats)

  def fcd_and_sd(self, images: np.ndarray, seed: int = 0) -> tuple[float, float]:
    """FCD of images [n, h, w, c] and its bootstrap sd over the n images."""
    return fcd_and_sd(self.logits_and_features(images)[1], *self._ref_stats, self._num_boot, seed)

  def references(self, num: int) -> dict[str, float]:
    """The reference points at n = `num`: fcd_ceiling, and fcd_floor with fcd_floor_sd when
    `num` held-out real images exist (the floor is omitted otherwise: it cannot be measured
    at that n without reusing images the classifier trained on or the reference holds)."""
    if num not in self._references:
      out = {"fcd_ceiling": self.fcd(trivial_generator(self._train_images, num))}
      if num <= self.max_floor_samples:
        pick = np.random.default_rng(0).permutation(len(self._held_out))[:num]
        out["fcd_floor"], out["fcd_floor_sd"] = self.fcd_and_sd(self._held_out[pick])
      self._references[num] = out
    return self._references[num]

  def report(self, samples: np.ndarray, labels: np.ndarray | None = None) -> dict[str, float]:
    """FCD with its bootstrap sd and 95% interval, the floor and ceiling at the same n, the
    smallest share of the samples that the classifier gives one class (mode coverage: 1/classes
    when balanced, 0 when a class is never drawn), and conditional accuracy with its Wilson
    interval when `labels` are given."""
    logits, feats = self.logits_and_features(samples)  # [n, classes], [n, d]
    fcd, sd = fcd_and_sd(feats, *self._ref_stats, self._num_boot)
    counts = np.bincount(logits.argmax(-1), minlength=logits.shape[-1])  # [classes]
    out = {"fcd": fcd, "fcd_sd": sd, "fcd_ci95_low": fcd - Z95 * sd, "fcd_ci95_high": fcd + Z95 * sd,
           **self.references(len(samples)), "classifier_test_accuracy": self.reference_accuracy,
           "min_class_share": float(counts.min() / len(samples))}
    if labels is not None:
      out.update(accuracy_with_interval(logits.argmax(-1) == np.asarray(labels)))
      out["cond_accuracy_chance"] = 1.0 / logits.shape[-1]
    return out

  def label_accuracy(self, images: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """The share of images [n, h, w, c] read as their labels [n] (cond_accuracy) with its
    Wilson interval (cond_accuracy_ci95_low / _high)."""
    return accuracy_with_interval(
        self.logits_and_features(images)[0].argmax(-1) == np.asarray(labels))


def accuracy_with_interval(hits: np.ndarray) -> dict[str, float]:
  """cond_accuracy = the share of True in hits [n], with its 95% Wilson interval."""
  correct = int(np.sum(hits))
  low, high = wilson_interval(correct, len(hits))
  return {"cond_accuracy": correct / len(hits), "cond_accuracy_ci95_low": low,
          "cond_accuracy_ci95_high": high}
