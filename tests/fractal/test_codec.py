"""End-to-end codec behaviour: quality, contractivity, colour, zoom, tolerance mode."""

import numpy as np
import pytest

from jaxgen import fractal
from tests.fractal.conftest import psnr


def test_grey_round_trip_quality(grey, grey_code):
  out = fractal.decode(grey_code)
  assert out.shape == grey.shape and out.dtype == np.uint8
  nbytes = len(fractal.to_bytes(grey_code))
  assert grey.size / nbytes > 6.0  # rate control lands near the 8:1 target
  assert psnr(grey, out) > 29.0


def test_decoder_converges_from_any_start(grey, grey_code):
  # Contractive maps have one attractor: black and noise starts must meet.
  rng = np.random.default_rng(0)
  a = fractal.decode(grey_code, start=np.zeros((128, 128)), iterations=60, smooth=0)
  b = fractal.decode(grey_code, start=rng.uniform(0, 255, (128, 128)), iterations=60, smooth=0)
  assert np.abs(a.astype(int) - b.astype(int)).max() <= 1


def test_deblocking_does_not_hurt_much(grey, grey_code):
  plain = psnr(grey, fractal.decode(grey_code, smooth=0))
  assert psnr(grey, fractal.decode(grey_code)) > plain - 0.3


def test_colour_round_trip(rgb):
  code = fractal.encode(rgb, ratio=10.0, params=fractal.codec.default_params(4, 16))
  code = fractal.from_bytes(fractal.to_bytes(code))
  out = fractal.decode(code)
  assert out.shape == rgb.shape
  assert psnr(rgb, out) > 24.0


@pytest.mark.parametrize("scale, shape", [(2.0, (256, 256)), (1.5, (192, 192)), (0.5, (64, 64))])
def test_zoom_has_requested_size(grey, grey_code, scale, shape):
  out = fractal.decode(grey_code, scale=scale)
  assert out.shape == shape
  # The zoomed attractor still looks like the image (compare after averaging back down).
  if scale == 2.0:
    small = out.reshape(128, 2, 128, 2).mean(axis=(1, 3))
    assert psnr(grey, np.rint(small).astype(np.uint8)) > 26.0


def test_tolerance_mode_follows_fisher_rule(grey):
  params = fractal.codec.default_params(4, 16)
  coarse = fractal.encode(grey, tolerance=12.0, params=params)
  fine = fractal.encode(grey, tolerance=4.0, params=params)
  assert len(fine.planes[0].size) > len(coarse.planes[0].size)
  assert psnr(grey, fractal.decode(fine)) > psnr(grey, fractal.decode(coarse))


def test_encode_rejects_bad_arguments(grey):
  with pytest.raises(ValueError):
    fractal.encode(grey)
  with pytest.raises(ValueError):
    fractal.encode(grey, ratio=-1.0)
  with pytest.raises(ValueError, match="alpha"):
    fractal.encode(np.zeros((8, 8, 4), np.uint8), ratio=4.0)
  with pytest.raises(ValueError, match="uint8"):
    fractal.encode(np.zeros((8, 8), np.uint16), ratio=4.0)


@pytest.mark.parametrize("shape", [(1, 1), (1, 40), (37, 1), (3, 5), (1, 7, 3), (33, 17, 3)])
def test_odd_and_one_pixel_sides_round_trip(shape):
  # A smooth ramp: coded well at a low ratio whatever the shape.
  yy, xx = np.indices(shape[:2])
  img = (4 * yy + 3 * xx) % 256
  img = np.stack([img, 255 - img, img // 2], -1) if len(shape) == 3 else img
  img = img.astype(np.uint8)
  # Fisher's tolerance rule, since a byte budget is meaningless for a few pixels.
  out = fractal.decode(fractal.from_bytes(fractal.to_bytes(fractal.encode(img, tolerance=2.0))))
  assert out.shape == img.shape
  # Colour is looser: half-resolution chroma of a 1-pixel side is one flat leaf.
  assert np.abs(out.astype(int) - img).mean() < (3 if img.ndim == 2 else 16)
