"""How MinD-Vis scores reconstructions, and the linear baseline its signals are calibrated by.

- n-way top-1 semantic accuracy (Chen et al. 2023): the scoring classifier's probabilities for
  a reconstruction, restricted to the true class and n - 1 other classes drawn at random; a
  trial succeeds when the true class has the highest. Chance is 1/n.
- pair-wise identification: a reconstruction is compared with its own stimulus and with every
  other test stimulus; each comparison succeeds when its own stimulus is the more similar
  (pixel correlation or SSIM). Chance is 1/2.
- n-way identification among the test stimuli: a reconstruction (or a decoded feature vector)
  succeeds when its own stimulus is the most similar of all n (50-way for the 50 test stimuli;
  chance 1/n), by scorer features or by pixel correlation.
- the linear baselines, each a ridge regression from signals (dual form) with its alpha chosen on
  validation: to labels (the decoder that sets how hard the synthetic signals are), to the
  scorer's features of the stimulus (then nearest-neighbour retrieval among the test stimuli),
  and to pixels (a linear reconstruction).
"""

import numpy as np
import skimage.metrics


def n_way_top1(probs: np.ndarray, labels: np.ndarray, ways: int, trials: int,
               seed: int = 0) -> np.ndarray:
  """Per-item success rate over `trials` draws: probs [n, C], labels [n] -> [n] in [0, 1].

  With ways == C every trial is the same: the classifier's top-1 against the label."""
  n, classes = probs.shape
  if not 2 <= ways <= classes:
    raise ValueError(f"ways must lie in [2, {classes}], got {ways}")
  rng = np.random.default_rng(seed)
  wins = np.zeros(n)
  for i in range(n):
    others = np.delete(np.arange(classes), labels[i])
    for _ in range(trials):
      pick = rng.choice(others, ways - 1, replace=False)
      wins[i] += probs[i, labels[i]] > probs[i, pick].max()
  return wins / trials


def correlation_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
  """Pearson correlation of every item of `a` with every item of `b` (images or feature
  vectors, flattened): [n, ...] x [m, ...] -> [n, m], row i for item i of `a`."""
  a = a.reshape(len(a), -1).astype(np.float64)
  b = b.reshape(len(b), -1).astype(np.float64)
  a = (a - a.mean(1, keepdims=True)) / (a.std(1, keepdims=True) + 1e-12)
  b = (b - b.mean(1, keepdims=True)) / (b.std(1, keepdims=True) + 1e-12)
  return a @ b.T / a.shape[1]


def ssim_matrix(recon: np.ndarray, stimuli: np.ndarray) -> np.ndarray:
  """SSIM of every reconstruction with every stimulus (images [n, h, w, 1] in [0, 1]) -> [n, n]."""
  return np.array([[skimage.metrics.structural_similarity(r[..., 0], s[..., 0], data_range=1.0)
                    for s in stimuli] for r in recon])


def pairwise_identification(similarity: np.ndarray) -> np.ndarray:
  """similarity [n, n] (row i: reconstruction i against each stimulus) -> per-item share [n]
  of other stimuli j with similarity[i, i] > similarity[i, j]."""
  n = len(similarity)
  own = np.diag(similarity)[:, None]  # [n, 1]
  wins = (own > similarity).sum(1)  # the diagonal never counts: own > own is False
  return wins / (n - 1)


def identification(similarity: np.ndarray) -> np.ndarray:
  """similarity [n, n] (row i: item i against each stimulus) -> per-item success [n] of
  n-way identification: 1 where its own stimulus is the most similar of all (chance 1/n)."""
  return (np.argmax(similarity, axis=1) == np.arange(len(similarity))).astype(np.float64)


def ridge_map(x: np.ndarray, targets: np.ndarray, alpha: float, intercept: bool = True):
  """Ridge regression from signals x [n, v] to targets [n, d] (each voxel standardised on x;
  solved in the dual, n << v), with the targets' mean as intercept or none: returns a function
  signals [m, v] -> predictions [m, d]."""
  mean, std = x.mean(0), x.std(0) + 1e-6
  a = (x - mean) / std
  target_mean = targets.mean(0) if intercept else np.zeros(targets.shape[1])
  weights = a.T @ np.linalg.solve(a @ a.T + alpha * np.eye(len(a)),
                                  targets - target_mean)  # [v, d]
  return lambda signals: ((signals - mean) / std) @ weights + target_mean


def ridge_fit(x: np.ndarray, y: np.ndarray, alpha: float, classes: int):
  """Ridge regression from signals x [n, v] to one-hot labels y [n]: returns a function
  signals [m, v] -> predicted labels [m]."""
  # One-hot targets centred on 1/classes, no intercept: an uninformative signal scores every
  # class alike.
  predict = ridge_map(x, np.eye(classes)[y] - 1.0 / classes, alpha, intercept=False)
  return lambda signals: predict(signals).argmax(1)


ALPHAS = (1e1, 1e2, 1e3, 1e4, 1e5)


def ridge_decoder(train_x: np.ndarray, train_y: np.ndarray, val_x: np.ndarray,
                  val_y: np.ndarray, classes: int = 10, alphas: tuple[float, ...] = ALPHAS,
                  refit: bool = True):
  """The ridge label decoder with alpha chosen on validation: (predict function, alpha).
  With `refit` the final decoder is fitted on train and validation together (for test);
  without, on train alone (for scoring validation itself)."""
  scores = [(np.mean(ridge_fit(train_x, train_y, a, classes)(val_x) == val_y), a)
            for a in alphas]
  alpha = max(scores)[1]
  if not refit:
    return ridge_fit(train_x, train_y, alpha, classes), alpha
  return ridge_fit(np.concatenate([train_x, val_x]), np.concatenate([train_y, val_y]), alpha,
                   classes), alpha


def ridge_regressor(train_x: np.ndarray, train_t: np.ndarray, val_x: np.ndarray,
                    val_score, alphas: tuple[float, ...] = ALPHAS):
  """Ridge regression to targets [n, d] with the alpha whose validation predictions score
  highest by `val_score(predictions [m, d]) -> float`; fitted on train alone (validation
  stays for tuning). Returns (predict function, alpha)."""
  fits = {a: ridge_map(train_x, train_t, a) for a in alphas}
  alpha = max(alphas, key=lambda a: val_score(fits[a](val_x)))
  return fits[alpha], alpha
