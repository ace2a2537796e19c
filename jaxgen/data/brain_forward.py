"""A forward model of visual cortex in the spirit of population-receptive-field models, for
MinD-Vis' synthetic benchmark (issue 37): images -> voxel responses a linear decoder cannot
simply invert, and resting-state frames that no digit ever drives.

Every voxel of V1-V3 sums the image under a Gaussian population receptive field (pRF,
Dumoulin & Wandell 2008) and compresses the sum by a power n < 1 (compressive spatial
summation, Kay et al. 2013): r = (sum_p g(p) I(p))^n with g normalised to sum 1. Retinotopy:
the pRF centres follow a Hilbert curve over the field (neighbouring voxels see neighbouring
places, and a run of voxels a compact patch, which gives MinD-Vis' 1-D patches their meaning)
and cover it evenly; sizes grow
with eccentricity and from V1 to V3. V4 voxels read one channel of a fixed random convolutional
feature layer (rectified 5x5 filters of the image) under larger pRFs, compressed more.

The parameters sit inside the published ranges and were set before any decoder saw a signal
(the benchmark is fixed first, never tuned to favour a method). The 28x28 image spans
FIELD_DEGREES of visual angle. pRF size sigma = intercept + slope * eccentricity (degrees): the
slopes rise from V1 to V4 (about 0.1-0.2 in V1 to 0.4-0.6 in V4 in Dumoulin & Wandell's and
Kay et al.'s fits); the exponents fall (Kay et al. 2013 report n of roughly 0.2-0.5, smaller
in higher areas).

Noise (`TrialNoise`): each trial adds Gaussian noise of variance 1 / snr per voxel, a share
`correlated` of it smooth along the voxel axis (neighbouring voxels share physiological noise),
and a slow drift over the run (a few low-frequency cosines per voxel, `drift` of the noise's
standard deviation). A tenth of the voxels lie outside visual cortex: noise and drift only.

Resting state (`pink_noise_images`): spontaneous activity is modelled as the same voxels
driven by random structured input, 1/f^2-power noise images (the spectrum of natural scenes),
never by a digit, plus the same noise.
"""

import dataclasses

import numpy as np

from jaxgen.errors import UserError

AREAS = ("V1", "V2", "V3", "V4")
# Voxels of V1, V2, V3, V4 and outside visual cortex, per synthetic subject.
SUBJECTS: dict[str, tuple[int, ...]] = {
    "sbj_1": (640, 560, 480, 400, 240),
    "sbj_2": (560, 520, 440, 360, 200),
    "sbj_3": (720, 600, 520, 440, 260),
}
RUN_LENGTH = 50  # trials (or frames) a scanner run holds: each run has its own drift
FIELD_DEGREES = 12.0  # visual angle the 28x28 image spans
# Per area: pRF size intercept (deg), size slope per degree of eccentricity, CSS exponent n.
PRF = {"V1": (0.5, 0.15, 0.5), "V2": (0.5, 0.25, 0.4), "V3": (0.5, 0.35, 0.3),
       "V4": (0.8, 0.5, 0.25)}
V4_CHANNELS = 8  # random rectified 5x5 filters read by V4
_RETINOTOPY_SMOOTHING = 12.0  # voxels: the width over which V4's feature channel drifts
_NOISE_SMOOTHING = 4.0  # voxels: the width of the correlated noise
_DRIFT_CYCLES = 3  # slow cosines per run, of 1..3 cycles


def _smooth(rng: np.random.Generator, shape: tuple[int, ...], width: float) -> np.ndarray:
  """White noise of `shape` smoothed along its last axis by a Gaussian of `width` samples,
  rescaled to unit variance (circular, so no edge is quieter than the middle)."""
  noise = rng.standard_normal(shape)
  n = shape[-1]
  freq = np.fft.rfftfreq(n)
  kernel = np.exp(-2.0 * (np.pi * width * freq) ** 2)  # the Gaussian's transfer function
  out = np.fft.irfft(np.fft.rfft(noise, axis=-1) * kernel, n=n, axis=-1)
  return out / out.std(axis=-1, keepdims=True)


def _hilbert_cells(order: int, index: np.ndarray) -> np.ndarray:
  """Cells [len(index), 2] (row, column) of a 2^order x 2^order grid at the given positions
  along the Hilbert curve: consecutive positions are adjacent cells, and any stretch of the
  curve fills a compact patch (the locality a retinotopic map has)."""
  x, y, t = np.zeros_like(index), np.zeros_like(index), index.copy()
  s = 1
  while s < 2 ** order:
    rx, ry = 1 & (t // 2), 1 & (t ^ (1 & (t // 2)))
    flip = (ry == 0) & (rx == 1)
    x, y = np.where(flip, s - 1 - x, x), np.where(flip, s - 1 - y, y)
    x, y = np.where(ry == 0, y, x), np.where(ry == 0, x, y)  # transpose the quadrant
    x, y = x + s * rx, y + s * ry
    t, s = t // 4, s * 2
  return np.stack([y, x], -1)


def retinotopic_centres(rng: np.random.Generator, voxels: int, side: int) -> np.ndarray:
  """pRF centres [voxels, 2] (row, column in pixels) that move smoothly along the voxel axis
  and cover the field evenly: evenly spaced points along a Hilbert curve over the image (from
  a random start, in one of the 8 orientations of the square), jittered within their cells."""
  order = int(np.ceil(np.log2(max(side, 2))))
  cells = 4 ** order
  index = (np.floor((np.arange(voxels) + rng.uniform()) * cells / voxels)).astype(np.int64) % cells
  cell = _hilbert_cells(order, index).astype(np.float64)  # [voxels, 2]
  if rng.uniform() < 0.5:
    cell = cell[:, ::-1]
  cell = np.where(rng.uniform(size=2) < 0.5, 2 ** order - 1 - cell, cell)
  points = (cell + rng.uniform(size=cell.shape)) / 2 ** order * side  # [0, side)
  return points - 0.5  # pixel centres are at integers: [-0.5, side - 0.5)


def prf_weights(centres: np.ndarray, area: str, side: int) -> np.ndarray:
  """Gaussian pRF weights [side * side, voxels], each column summing to 1, of size
  intercept + slope * eccentricity (degrees, from the image centre) for `area`."""
  intercept, slope, _ = PRF[area]
  px_per_deg = side / FIELD_DEGREES
  middle = (side - 1) / 2.0
  eccentricity = np.hypot(*(centres - middle).T) / px_per_deg  # [voxels], degrees
  sigma = (intercept + slope * eccentricity) * px_per_deg  # [voxels], pixels
  grid = np.stack(np.meshgrid(np.arange(side), np.arange(side), indexing="ij"), -1)
  d2 = np.sum((grid.reshape(-1, 1, 2) - centres[None]) ** 2, axis=-1)  # [pixels, voxels]
  g = np.exp(-0.5 * d2 / sigma[None] ** 2)
  return (g / g.sum(axis=0, keepdims=True)).astype(np.float32)


def v4_features(images: np.ndarray, seed: int = 23) -> np.ndarray:
  """A fixed random convolutional feature layer: images [n, h, w] in [0, 1] -> rectified
  responses of V4_CHANNELS zero-mean 5x5 filters [n, h, w, V4_CHANNELS] ("same" size)."""
  rng = np.random.default_rng(seed)
  filters = rng.standard_normal((V4_CHANNELS, 5, 5))
  filters -= filters.mean(axis=(1, 2), keepdims=True)  # edge and blob detectors, no DC
  filters /= np.linalg.norm(filters, axis=(1, 2), keepdims=True)
  n, h, w = images.shape
  padded = np.pad(images, ((0, 0), (2, 2), (2, 2)))
  windows = np.lib.stride_tricks.sliding_window_view(padded, (5, 5), axis=(1, 2))  # [n,h,w,5,5]
  return np.maximum(np.einsum("nhwij,cij->nhwc", windows, filters), 0.0).astype(np.float32)


@dataclasses.dataclass(frozen=True)
class VisualCortex:
  """One synthetic subject's fixed forward model: per area its pRF weights (and, for V4, which
  feature channel each voxel reads), then voxels outside visual cortex."""

  subject_seed: int
  counts: tuple[int, ...]  # voxels of V1, V2, V3, V4, outside
  side: int
  weights: tuple[np.ndarray, ...]  # per area [side * side, voxels]
  v4_channel: np.ndarray  # [V4 voxels]

  @classmethod
  def create(cls, counts: tuple[int, ...], side: int, subject_seed: int) -> "VisualCortex":
    """A subject with `counts` voxels per area (and outside), its retinotopy drawn from
    `subject_seed`."""
    if len(counts) != len(AREAS) + 1 or min(counts[:4]) < 1 or counts[4] < 0:
      raise UserError(f"give voxel counts for {', '.join(AREAS)} and outside, got {counts}")
    rng = np.random.default_rng(subject_seed)
    weights = tuple(prf_weights(retinotopic_centres(rng, v, side), area, side)
                    for area, v in zip(AREAS, counts))
    # V4's channel changes slowly along the voxel axis too (columns of like selectivity).
    ranks = np.argsort(np.argsort(_smooth(rng, (counts[3],), _RETINOTOPY_SMOOTHING)))
    channel = (ranks * V4_CHANNELS // counts[3]).astype(np.int64)
    return cls(subject_seed, tuple(counts), side, weights, channel)

  @property
  def num_voxels(self) -> int:
    """All voxels, outside visual cortex included."""
    return sum(self.counts)

  def drive(self, images: np.ndarray) -> np.ndarray:
    """Noise-free responses [n, voxels] of images [n, side, side(, 1)], uint8 or floats in
    [0, 1]: the compressed pRF sums (0 outside visual cortex), before any standardisation."""
    x = np.asarray(images)
    x = x.astype(np.float32) / 255.0 if x.dtype == np.uint8 else x.astype(np.float32)
    x = x.reshape(len(x), self.side, self.side)
    flat = x.reshape(len(x), -1)  # [n, pixels]
    parts = [np.maximum(flat @ w, 0.0) ** PRF[area][2]
             for area, w in zip(AREAS[:3], self.weights[:3])]
    features = v4_features(x).reshape(len(x), -1, V4_CHANNELS)  # [n, pixels, C]
    v4 = np.zeros((len(x), self.counts[3]), np.float32)
    for channel in range(V4_CHANNELS):  # each voxel reads its own channel under its pRF
      reads = self.v4_channel == channel
      v4[:, reads] = features[:, :, channel] @ self.weights[3][:, reads]
    parts.append(np.maximum(v4, 0.0) ** PRF["V4"][2])
    parts.append(np.zeros((len(x), self.counts[4]), np.float32))
    return np.concatenate(parts, axis=1).astype(np.float32)

  def masks(self) -> dict[str, np.ndarray]:
    """Boolean ROI masks over the voxel axis: V1..V4, LVC (V1-V3), HVC (V4), VC (all four)."""
    return roi_masks(self.counts[:len(AREAS)], self.num_voxels)


def roi_masks(area_sizes: tuple[int, ...] | list[int], num_voxels: int) -> dict[str, np.ndarray]:
  """Boolean masks [num_voxels] for voxels laid out as V1, V2, V3, V4 (`area_sizes`) then
  voxels outside visual cortex: each area, LVC (V1-V3), HVC (V4) and VC (all four)."""
  edges = np.cumsum((0,) + tuple(area_sizes))
  masks = {}
  for area, lo, hi in zip(AREAS, edges[:-1], edges[1:]):
    masks[area] = np.zeros(num_voxels, bool)
    masks[area][lo:hi] = True
  masks["LVC"] = masks["V1"] | masks["V2"] | masks["V3"]
  masks["HVC"] = masks["V4"].copy()
  masks["VC"] = masks["LVC"] | masks["HVC"]
  return masks


@dataclasses.dataclass(frozen=True)
class TrialNoise:
  """Measurement noise of a run of trials: variance 1 / snr per voxel, a share `correlated`
  smooth along the voxel axis, plus a slow drift of `drift` times the noise's std."""

  snr: float
  correlated: float = 0.5
  drift: float = 0.3

  def sample(self, rng: np.random.Generator, trials: int, voxels: int,
             run_length: int | None = None) -> np.ndarray:
    """Noise [trials, voxels] for one run, trials in presentation order; the drift's cycles
    span `run_length` trials (default: these), so a run cut short keeps the drift's pace."""
    if self.snr <= 0 or not 0.0 <= self.correlated <= 1.0 or self.drift < 0:
      raise UserError(f"noise needs snr > 0, correlated in [0, 1] and drift >= 0; got {self}")
    white = rng.standard_normal((trials, voxels))
    shared = _smooth(rng, (trials, voxels), _NOISE_SMOOTHING)
    noise = np.sqrt(1 - self.correlated) * white + np.sqrt(self.correlated) * shared
    t = np.arange(trials)[:, None] / max(run_length or trials, 1)  # [trials, 1]
    cycles = np.arange(1, _DRIFT_CYCLES + 1)
    loads = rng.standard_normal((_DRIFT_CYCLES, voxels)) / np.sqrt(_DRIFT_CYCLES / 2.0)
    phases = rng.uniform(0, 2 * np.pi, (_DRIFT_CYCLES, voxels))
    drift = sum(np.cos(2 * np.pi * k * t + phases[i]) * loads[i] for i, k in enumerate(cycles))
    return ((noise + self.drift * drift) / np.sqrt(self.snr)).astype(np.float32)


def pink_noise_images(rng: np.random.Generator, n: int, side: int,
                      exponent: float = 2.0) -> np.ndarray:
  """n images [n, side, side] in [0, 1] of noise whose power falls as 1 / f^exponent (natural
  scenes' spectrum at exponent 2), scaled to mean 0.5 and standard deviation 0.2 and clipped."""
  fy, fx = np.fft.fftfreq(side)[:, None], np.fft.rfftfreq(side)[None, :]
  f = np.hypot(fy, fx)
  f[0, 0] = np.inf  # no DC: the mean is set below
  amplitude = f ** (-exponent / 2.0)
  spectrum = amplitude * (rng.standard_normal((n, side, side // 2 + 1))
                          + 1j * rng.standard_normal((n, side, side // 2 + 1)))
  x = np.fft.irfft2(spectrum, s=(side, side))
  x = (x - x.mean(axis=(1, 2), keepdims=True)) / x.std(axis=(1, 2), keepdims=True)
  return np.clip(0.5 + 0.2 * x, 0.0, 1.0).astype(np.float32)


@dataclasses.dataclass(frozen=True)
class Subject:
  """One synthetic subject of the benchmark: its cortex (SUBJECTS' voxel counts, retinotopy
  from its number) and the scale of its evoked responses, so that every visual voxel's
  noise-free response to the reference stimuli has unit variance and the SNR is the same
  for every voxel."""

  name: str
  cortex: VisualCortex
  mean: np.ndarray  # [voxels] noise-free responses' statistics over the reference stimuli
  std: np.ndarray

  @classmethod
  def create(cls, name: str, reference_images: np.ndarray, side: int = 28) -> "Subject":
    """The subject `name` (sbj_1, ...), its responses standardised on `reference_images`."""
    if name not in SUBJECTS:
      raise UserError(f"unknown synthetic subject {name!r}; known: {', '.join(SUBJECTS)}")
    cortex = VisualCortex.create(SUBJECTS[name], side, int(name.split("_")[1]) * 1009)
    drive = cortex.drive(reference_images)  # [n, voxels]
    return cls(name, cortex, drive.mean(0), drive.std(0) + 1e-6)

  def evoked(self, images: np.ndarray) -> np.ndarray:
    """Noise-free standardised responses [n, voxels] (0 outside visual cortex)."""
    return ((self.cortex.drive(images) - self.mean) / self.std).astype(np.float32)

  def trials(self, images: np.ndarray, snr: float, rng: np.random.Generator) -> np.ndarray:
    """One trial per image, in the given (presentation) order: evoked responses plus
    `TrialNoise(snr)`, drawn per run of RUN_LENGTH trials."""
    return self.evoked(images) + _runs_of_noise(TrialNoise(snr), rng, len(images),
                                                self.cortex.num_voxels)

  def resting_state(self, frames: int, snr: float, rng: np.random.Generator) -> np.ndarray:
    """Resting-state frames [frames, voxels]: the same voxels driven by 1/f^2 noise images
    (no digit ever drives them), standardised over the frames themselves (nothing is taken
    from the stimuli), plus the same kind of noise at `snr`."""
    drive = self.cortex.drive(pink_noise_images(rng, frames, self.cortex.side))
    spontaneous = (drive - drive.mean(0)) / (drive.std(0) + 1e-6)  # 0 outside visual cortex
    return (spontaneous + _runs_of_noise(TrialNoise(snr), rng, frames,
                                         self.cortex.num_voxels)).astype(np.float32)

  def masks(self) -> dict[str, np.ndarray]:
    """Boolean ROI masks over the voxel axis (see `roi_masks`)."""
    return self.cortex.masks()


def _runs_of_noise(noise: TrialNoise, rng: np.random.Generator, trials: int,
                   voxels: int) -> np.ndarray:
  """Noise [trials, voxels] of consecutive runs of RUN_LENGTH trials, each with its own drift."""
  if trials == 0:
    return np.zeros((0, voxels), np.float32)
  return np.concatenate([noise.sample(rng, min(RUN_LENGTH, trials - start), voxels, RUN_LENGTH)
                         for start in range(0, trials, RUN_LENGTH)])

