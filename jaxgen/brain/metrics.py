"""How MinD-Vis scores reconstructions, and the linear baseline its signals are calibrated by.

- n-way top-1 semantic accuracy (Chen et al. 2023): the scoring classifier's probabilities for
  a reconstruction, restricted to the true class and n - 1 other classes drawn at random; a
  trial succeeds when the true class has the highest. Chance is 1/n.
- pair-wise identification: a reconstruction is compared with its own stimulus and with every
  other test stimulus; each comparison succeeds when its own stimulus is the more similar
  (pixel correlation or SSIM). Chance is 1/2.
- a ridge-regression label decoder (one-hot targets, dual form), the linear read-out that sets
  how hard the synthetic signals are.
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


def pixel_correlations(recon: np.ndarray, stimuli: np.ndarray) -> np.ndarray:
  """Pearson correlation of every reconstruction with every stimulus: [n, ...] x [n, ...] ->
  [n, n], row i for reconstruction i."""
  a = recon.reshape(len(recon), -1).astype(np.float64)
  b = stimuli.reshape(len(stimuli), -1).astype(np.float64)
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


def ridge_fit(x: np.ndarray, y: np.ndarray, alpha: float, classes: int):
  """Ridge regression from signals x [n, v] to one-hot labels y [n]: returns a function
  signals [m, v] -> predicted labels [m]. Solved in the dual (n << v)."""
  mean, std = x.mean(0), x.std(0) + 1e-6
  a = (x - mean) / std
  targets = np.eye(classes)[y] - 1.0 / classes
  weights = a.T @ np.linalg.solve(a @ a.T + alpha * np.eye(len(a)), targets)  # [v, C]
  return lambda signals: (((signals - mean) / std) @ weights).argmax(1)


def ridge_decoder(train_x: np.ndarray, train_y: np.ndarray, val_x: np.ndarray,
                  val_y: np.ndarray, classes: int = 10,
                  alphas: tuple[float, ...] = (1e1, 1e2, 1e3, 1e4, 1e5), refit: bool = True):
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
