"""The linear baselines MinD-Vis must beat on the same signals (issue 37), each a ridge
regression from signals (`metrics.ridge_map`) fitted on the train trials, its alpha chosen on
the validation stimuli (averaged repeats, as test's are):

- to labels: the label decoder (its alpha by validation accuracy);
- to the scorer's features of the stimulus, then nearest-neighbour retrieval among the test
  stimuli (its alpha by validation identification among the validation stimuli);
- to pixels: a linear reconstruction (its alpha by validation identification by pixel
  correlation).

Each returns (predict, alpha): predict maps signals [m, v] to labels [m], features [m, d] or
images [m, h, w, c] in [0, 1].
"""

from typing import Callable

import numpy as np

from jaxgen.brain import metrics


def label_decoder(train_x: np.ndarray, train_y: np.ndarray, val_x: np.ndarray,
                  val_y: np.ndarray) -> tuple[Callable, float]:
  """Ridge to one-hot labels; predict gives labels [m]."""
  return metrics.ridge_decoder(train_x, train_y, val_x, val_y, refit=False)


def feature_decoder(train_x: np.ndarray, train_features: np.ndarray, val_x: np.ndarray,
                    val_features: np.ndarray) -> tuple[Callable, float]:
  """Ridge to the scorer's features of each stimulus; predict gives features [m, d], which
  identify a stimulus by correlation (`metrics.identification`)."""
  return metrics.ridge_regressor(
      train_x, train_features, val_x,
      lambda pred: metrics.identification(metrics.correlation_matrix(pred, val_features)).mean())


def pixel_decoder(train_x: np.ndarray, train_images: np.ndarray, val_x: np.ndarray,
                  val_images: np.ndarray) -> tuple[Callable, float]:
  """Ridge to pixels (images in [0, 1]); predict gives images [m, h, w, c] clipped to [0, 1]."""
  shape = train_images.shape[1:]
  flat = lambda images: images.reshape(len(images), -1).astype(np.float64)
  predict, alpha = metrics.ridge_regressor(
      train_x, flat(train_images), val_x,
      lambda pred: metrics.identification(
          metrics.correlation_matrix(pred, flat(val_images))).mean())
  return (lambda signals: np.clip(predict(signals), 0.0, 1.0).reshape((-1,) + shape)
          .astype(np.float32)), alpha
