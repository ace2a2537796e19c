"""RGB <-> YCbCr (ITU-R BT.601, full range, as in JFIF) and 2x chroma resampling."""

import numpy as np

_TO_YCC = np.array([[0.299, 0.587, 0.114],
                    [-0.168736, -0.331264, 0.5],
                    [0.5, -0.418688, -0.081312]], np.float32)
_OFFSET = np.array([0.0, 128.0, 128.0], np.float32)


def rgb_to_ycbcr(rgb: np.ndarray) -> np.ndarray:
  """[h, w, 3] values 0..255 -> [h, w, 3] Y, Cb, Cr in 0..255."""
  return rgb.astype(np.float32) @ _TO_YCC.T + _OFFSET


def ycbcr_to_rgb(ycc: np.ndarray) -> np.ndarray:
  """Inverse of `rgb_to_ycbcr` (float, not clipped)."""
  return (ycc.astype(np.float32) - _OFFSET) @ np.linalg.inv(_TO_YCC).T.astype(np.float32)


def halve(plane: np.ndarray) -> np.ndarray:
  """2x box downsampling of [h, w] -> [ceil(h/2), ceil(w/2)], edge-padding odd sizes."""
  h, w = plane.shape
  p = np.pad(plane, ((0, h % 2), (0, w % 2)), mode="edge")
  return p.reshape(p.shape[0] // 2, 2, p.shape[1] // 2, 2).mean(axis=(1, 3))


def double(plane: np.ndarray, height: int, width: int) -> np.ndarray:
  """Bilinear 2x upsampling (pixel-centre aligned) of [h, w], cropped to [height, width]."""
  h, w = plane.shape

  def axis_weights(n_out, n_in):
    pos = (np.arange(n_out) + 0.5) / 2.0 - 0.5  # output centres in input coordinates
    lo = np.clip(np.floor(pos).astype(int), 0, n_in - 1)
    hi = np.clip(lo + 1, 0, n_in - 1)
    frac = np.clip(pos - np.floor(pos), 0.0, 1.0).astype(np.float32)
    frac = np.where(pos < 0, 0.0, frac).astype(np.float32)
    return lo, hi, frac

  ylo, yhi, fy = axis_weights(height, h)
  xlo, xhi, fx = axis_weights(width, w)
  rows = plane[ylo] * (1 - fy[:, None]) + plane[yhi] * fy[:, None]  # [height, w]
  return rows[:, xlo] * (1 - fx[None, :]) + rows[:, xhi] * fx[None, :]
