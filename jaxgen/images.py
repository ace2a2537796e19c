"""Image files: reading any Pillow image as 8-bit arrays, and PNG grids of samples,
reconstructions and translations for people to look at."""

import io
import os

import numpy as np
from PIL import Image

from jaxgen import storage
from jaxgen.errors import UserError

_BACKGROUNDS = {"white": 255, "black": 0}


def _scaled_to_uint8(values: np.ndarray, mode: str, path: str) -> np.ndarray:
  """16-bit, 32-bit integer or float grey levels -> uint8 0..255, scaled, never clipped.

  16-bit levels (0..65535) are divided by 257, which maps 65535 to 255 exactly; 32-bit
  integer images ("I") whose values fit 0..255 are taken as 8-bit levels, others as
  16-bit; floats in [0, 1] are multiplied by 255. Anything else is refused.
  """
  lo, hi = float(values.min()), float(values.max())
  if mode == "F":
    if not (np.isfinite(lo) and np.isfinite(hi) and lo >= 0.0 and hi <= 1.0):
      raise UserError(f"{path}: float image values span [{lo:g}, {hi:g}]; expected [0, 1]")
    return np.rint(values * 255.0).astype(np.uint8)
  if lo < 0 or hi > 65535:
    raise UserError(f"{path}: integer image values span [{lo:g}, {hi:g}]; expected 0..65535")
  full_scale = 255.0 if mode == "I" and hi <= 255 else 65535.0
  return np.rint(values.astype(np.float64) * (255.0 / full_scale)).astype(np.uint8)


def load_image(path: str, alpha_background: str | None = None,
               max_pixels: int | None = None) -> np.ndarray:
  """Reads any Pillow-readable image as uint8 [h, w] (grey) or [h, w, 3] (colour).

  16-bit and float images are scaled to 0..255, never clipped. Colour images whose three
  channels are equal everywhere come back grey. Transparency is never dropped silently: a
  fully opaque alpha channel is ignored, and any other is composited over
  `alpha_background` ("white" or "black") or refused with a message naming the fix.
  Images of more than `max_pixels` pixels are refused before their pixels are decoded.
  Raises `UserError` (unreadable file, unsupported values, transparency, size) or OSError.
  """
  from PIL import UnidentifiedImageError
  try:
    with Image.open(path) as im:
      width, height = im.size
      if max_pixels is not None and width * height > max_pixels:
        raise UserError(f"{path} is {width}x{height}, more than the {max_pixels:,} pixels "
                        "allowed here; downscale or crop it")
      im.load()
      if im.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        # Pillow's convert("L") clips these to 255 (a 16-bit PNG turns almost white).
        return _scaled_to_uint8(np.asarray(im), im.mode, path)
      rgba = np.asarray(im.convert("RGBA"))  # [h, w, 4] uint8
  except (UnidentifiedImageError, Image.DecompressionBombError) as e:
    raise UserError(f"cannot read image {path}: {e}") from None
  out = rgba[..., :3]
  if (rgba[..., 3] != 255).any():
    if alpha_background not in _BACKGROUNDS:
      raise UserError(f"{path} has transparent pixels; pass --alpha-background white or "
                      "black to composite it (the codec stores no alpha)")
    alpha = rgba[..., 3:].astype(np.float32) / 255.0
    mixed = out * alpha + np.float32(_BACKGROUNDS[alpha_background]) * (1.0 - alpha)
    out = np.rint(mixed).astype(np.uint8)
  grey = (out[..., 0] == out[..., 1]).all() and (out[..., 1] == out[..., 2]).all()
  return out[..., 0] if grey else out


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
  """Writes images [n, h, w, c] (uint8, or float in [0, 1]) as a PNG grid; returns the path
  (a local one or a URL in an object store)."""
  images = np.asarray(images)
  if images.dtype != np.uint8:
    images = to_uint8(images)
  tiled = grid(images, rows)
  if tiled.shape[-1] == 1:
    tiled = tiled[..., 0]
  if storage.is_url(path):  # a workdir in an object store: PIL writes local files only
    buffer = io.BytesIO()
    Image.fromarray(tiled).save(buffer, format="PNG")
    storage.write_bytes(path, buffer.getvalue())
    return path
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  Image.fromarray(tiled).save(path)
  return path
