"""Image grids as PNG files: samples, reconstructions and translations for people to look at."""

import os

import numpy as np
from PIL import Image


def to_uint8(images: np.ndarray) -> np.ndarray:
  """float images in [0, 1] -> uint8 [0, 255] (clipped)."""
  return np.clip(np.round(np.asarray(images, np.float32) * 255.0), 0, 255).astype(np.uint8)


def grid(images: np.ndarray, rows: int | None = None, pad: int = 2) -> np.ndarray:
  """Tiles images [n, h, w, c] (uint8) into one [H, W, c] image, `rows` rows (default square)."""
  n, h, w, c = images.shape
  rows = rows or int(np.ceil(np.sqrt(n)))
  cols = int(np.ceil(n / rows))
  out = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, c), 255, np.uint8)
  for i in range(n):
    r, col = divmod(i, cols)
    top, left = pad + r * (h + pad), pad + col * (w + pad)
    out[top:top + h, left:left + w] = images[i]
  return out


def save_grid(path: str, images: np.ndarray, rows: int | None = None) -> str:
  """Writes images [n, h, w, c] (uint8, or float in [0, 1]) as a PNG grid; returns the path."""
  images = np.asarray(images)
  if images.dtype != np.uint8:
    images = to_uint8(images)
  tiled = grid(images, rows)
  if tiled.shape[-1] == 1:
    tiled = tiled[..., 0]
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  Image.fromarray(tiled).save(path)
  return path
