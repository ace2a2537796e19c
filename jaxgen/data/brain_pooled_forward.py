"""The synthetic fMRI benchmark's forward model (what `jaxgen.data.brain` writes in the real
datasets' layouts): image features -> voxel responses of one synthetic subject.

The forward model (`ForwardModel`): an image's features are its 2x2-pooled pixels (196, the
early ROIs V1..V3) and a fixed random ReLU layer over them (the "higher" ROI V4). Each voxel
reads its ROI's features through weights that are smooth along the voxel axis (neighbouring
voxels are tuned alike, which is what gives 1-D patches their meaning), responses are scaled to
unit variance over the train stimuli, and each trial adds independent Gaussian noise of variance
1 / snr. A tenth of the voxels lie outside the visual cortex and are pure noise. Each subject
has its own weights and voxel counts.

Issue 37's population-receptive-field model (`jaxgen.data.brain_forward`) is to replace it.
"""

import dataclasses

import numpy as np

from jaxgen.data.brain_forward import AREAS as ROIS, roi_masks
from jaxgen.errors import UserError

# Voxels per ROI (V1, V2, V3, V4) and outside the visual cortex, per subject.
SUBJECTS: dict[str, tuple[int, ...]] = {
    "sbj_1": (640, 560, 480, 400, 240),
    "sbj_2": (560, 520, 440, 360, 200),
    "sbj_3": (720, 600, 520, 440, 260),
}
_FEATURE_SEED = 17  # the random ReLU layer, shared by every subject
_POOLED = 196
_NONLINEAR = 64
_SMOOTH_VOXELS = 6.0  # Gaussian smoothing width of the weights along the voxel axis


def image_features(images: np.ndarray) -> np.ndarray:
  """uint8 or [0, 1] images [n, 28, 28, 1] -> features float32 [n, 196 + 64]: 2x2-pooled
  pixels, then a fixed random ReLU layer over them."""
  x = np.asarray(images, np.float32)
  if x.max() > 1.0:
    x = x / 255.0
  n = x.shape[0]
  pooled = x[..., 0].reshape(n, 14, 2, 14, 2).mean(axis=(2, 4)).reshape(n, _POOLED)  # [n, 196]
  rng = np.random.default_rng(_FEATURE_SEED)
  proj = rng.standard_normal((_POOLED, _NONLINEAR)).astype(np.float32) / np.sqrt(_POOLED)
  bias = -0.5 * np.abs(proj).sum(0) * pooled.mean()  # sparse responses: about half active
  return np.concatenate([pooled, np.maximum(pooled @ proj + bias, 0.0)], axis=1)


def _smooth_weights(rng: np.random.Generator, voxels: int, features: int) -> np.ndarray:
  """Weights [features, voxels], white noise smoothed along the voxel axis."""
  raw = rng.standard_normal((features, voxels + 64))
  taps = np.exp(-0.5 * (np.arange(-16, 17) / _SMOOTH_VOXELS) ** 2)
  taps /= np.sqrt(np.sum(taps ** 2))
  smooth = np.stack([np.convolve(row, taps, mode="same") for row in raw])
  return smooth[:, 32:32 + voxels].astype(np.float32)


@dataclasses.dataclass(frozen=True)
class ForwardModel:
  """One synthetic subject: image features -> voxel responses (see the module docstring)."""

  subject: str
  weights: tuple[np.ndarray, ...]  # per ROI [features of the ROI, voxels]
  outside: int  # pure-noise voxels outside the visual cortex
  mean: np.ndarray  # [voxels]: response statistics over the train stimuli (noise-free)
  std: np.ndarray

  @classmethod
  def create(cls, subject: str, reference_images: np.ndarray) -> "ForwardModel":
    """The subject's fixed model; responses are standardised on `reference_images`."""
    if subject not in SUBJECTS:
      raise UserError(f"unknown synthetic subject {subject!r}; known: {', '.join(SUBJECTS)}")
    counts = SUBJECTS[subject]
    rng = np.random.default_rng(int(subject.split("_")[1]) * 1009)
    weights = tuple(_smooth_weights(rng, v, _NONLINEAR if roi == "V4" else _POOLED)
                    for roi, v in zip(ROIS, counts[:4]))
    model = cls(subject, weights, counts[4], np.zeros(0), np.ones(0))
    clean = model._raw(reference_images)
    return dataclasses.replace(model, mean=clean.mean(0), std=clean.std(0) + 1e-6)

  def _raw(self, images: np.ndarray) -> np.ndarray:
    f = image_features(images)
    parts = [f[:, _POOLED:] @ w if i == 3 else f[:, :_POOLED] @ w
             for i, w in enumerate(self.weights)]
    parts.append(np.zeros((len(f), self.outside), np.float32))
    return np.concatenate(parts, axis=1)

  def masks(self) -> dict[str, np.ndarray]:
    """Boolean ROI masks over the voxel axis: V1..V4, LVC (V1-V3), HVC (V4), VC (all four)."""
    sizes = [w.shape[1] for w in self.weights]
    return roi_masks(sizes, sum(sizes) + self.outside)

  def responses(self, images: np.ndarray, snr: float, rng: np.random.Generator) -> np.ndarray:
    """One trial per image: float32 [n, voxels], unit-variance signal plus noise of variance
    1 / snr (pure noise outside the visual cortex)."""
    clean = (self._raw(images) - self.mean) / self.std  # [n, voxels]
    clean[:, clean.shape[1] - self.outside:] = 0.0
    noise = rng.standard_normal(clean.shape).astype(np.float32) / np.sqrt(snr)
    return (clean + noise).astype(np.float32)
