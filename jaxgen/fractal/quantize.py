"""Uniform quantisers for the contrast s (kept strictly inside (-1, 1)) and the block mean."""

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class Quantizer:
  """Quantiser settings shared by encoder, bitstream and decoder.

  Attributes:
    s_levels: contrast indices run over -s_levels..s_levels.
    s_max: largest |s|; < 1 keeps every map contractive in the mean-removed form.
    dc_step: step of the block-mean quantiser, in grey levels (0..255).
  """

  s_levels: int = 8
  s_max: float = 0.95
  dc_step: float = 4.0

  def __post_init__(self):
    # The file stores float32; round here so encoder and decoder use identical values.
    object.__setattr__(self, "s_max", float(np.float32(self.s_max)))
    object.__setattr__(self, "dc_step", float(np.float32(self.dc_step)))
    if not 1 <= self.s_levels <= 63:
      raise ValueError(f"s_levels must be in 1..63, got {self.s_levels}")
    if not 0.0 < self.s_max < 1.0:
      raise ValueError(f"s_max must be in (0, 1) for contractivity, got {self.s_max}")
    if not 0.5 <= self.dc_step <= 64:
      raise ValueError(f"dc_step must be in [0.5, 64], got {self.dc_step}")

  @property
  def s_step(self) -> float:
    """Spacing of the contrast levels."""
    return self.s_max / self.s_levels

  @property
  def dc_levels(self) -> int:
    """Number of block-mean indices (0..dc_levels-1); the top one reaches >= 255."""
    return int(np.ceil(255.0 / self.dc_step)) + 1

  def s_index(self, s: np.ndarray) -> np.ndarray:
    """Nearest contrast index, clipped to the contractive range."""
    k = np.rint(np.asarray(s, np.float64) / self.s_step)
    return np.clip(k, -self.s_levels, self.s_levels).astype(np.int32)

  def s_value(self, index: np.ndarray) -> np.ndarray:
    """Contrast value of an index."""
    return np.asarray(index, np.float32) * np.float32(self.s_step)

  def dc_index(self, mean: np.ndarray) -> np.ndarray:
    """Nearest block-mean index."""
    k = np.rint(np.asarray(mean, np.float64) / self.dc_step)
    return np.clip(k, 0, self.dc_levels - 1).astype(np.int32)

  def dc_value(self, index: np.ndarray) -> np.ndarray:
    """Block-mean value of an index."""
    return np.asarray(index, np.float32) * np.float32(self.dc_step)
