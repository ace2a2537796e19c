"""Untrusted files and images: every limit is checked before allocation, with one-line errors."""

import pathlib
import struct
import time
import zlib

import numpy as np
import pytest
from PIL import Image

from experiments import fuzz_fic
from jaxgen import cli, fractal, images
from jaxgen.errors import UserError
from jaxgen.fractal import fileformat, limits


def _with_crc(body: bytes) -> bytes:
  return body + struct.pack("<I", zlib.crc32(body))


_flat_code = fuzz_fic.flat_code


def test_zero_min_block_is_refused_at_once():
  # The 117-byte file of the review: min_block 0 used to loop forever in CoderParams.
  body = (fileformat._HEAD.pack(b"JXFIC", 1, 64, 64, 1, 0, 32, 4) + bytes([16, 8, 4, 4])
          + fileformat._QUANT.pack(8, 0.95, 4.0, 80) + bytes(80))
  t0 = time.perf_counter()
  with pytest.raises(fractal.FicFormatError, match="block sizes"):
    fractal.from_bytes(_with_crc(body))
  # A generous bound (a loaded 2-core machine stalls for a second at times): the bug looped
  # forever, a refusal takes milliseconds.
  assert time.perf_counter() - t0 < 5.0


def test_valid_file_declaring_a_huge_image_needs_the_override():
  data = fractal.to_bytes(_flat_code(16384, 16384))
  assert len(data) < 4096  # a few KB legitimately describe a flat 16384^2 page
  with pytest.raises(fractal.FicFormatError, match="--max-pixels") as err:
    fractal.from_bytes(data)
  assert "\n" not in str(err.value)
  # Raised explicitly, the cap lets the (trusted) file parse.
  code = fractal.from_bytes(data, max_samples=16384 ** 2)
  assert (code.height, code.width) == (16384, 16384)


def test_payload_tie_refuses_more_tiles_than_bytes():
  body = fractal.to_bytes(_flat_code(256, 256))[:-4]
  head = bytearray(body)
  struct.pack_into("<HH", head, 6, 8192, 8192)  # 16384 tiles claimed by a ~20-byte payload
  with pytest.raises(fractal.FicFormatError, match="payload can describe"):
    fractal.from_bytes(_with_crc(bytes(head)))


def test_decode_checks_zoom_against_the_cap(grey_code):
  with pytest.raises(ValueError, match="safety cap"):
    fractal.decode(grey_code, scale=8, max_samples=128 * 128 * 16)
  assert fractal.decode(grey_code, scale=4, max_samples=128 * 128 * 16).shape == (512, 512)


@pytest.mark.parametrize("shape", [(2, 16400), (2, 70000), (16385, 3)])
def test_encoder_refuses_sides_the_reader_would_refuse(shape):
  t0 = time.perf_counter()
  with pytest.raises(ValueError, match="sides of 1 to 16384"):
    fractal.encode(np.zeros(shape, np.uint8), ratio=10)
  assert time.perf_counter() - t0 < 5.0  # refused before any search (which takes minutes)


def test_encoder_refuses_images_over_the_sample_cap():
  with pytest.raises(ValueError, match="safety cap"):
    fractal.encode(np.zeros((3000, 3000), np.uint8), ratio=10)


def test_every_encodable_file_is_readable():
  # The payload tie is a lower bound on real coding cost: a flat image, the cheapest
  # per tile, still passes it with its tiles at the largest block size.
  flat = np.full((512, 1024), 200, np.uint8)
  code = fractal.encode(flat, ratio=100, params=fractal.codec.default_params(32, 64))
  data = fractal.to_bytes(code)
  assert limits.num_tiles(512, 1024, 1, 64) > 2 * len(data)  # the tie is tight here
  assert fractal.decode(fractal.from_bytes(data)).shape == (512, 1024)


def test_nothing_on_the_untrusted_path_catches_base_exception():
  # A swallowed MemoryError or KeyboardInterrupt would be reported as a corrupt file.
  package = pathlib.Path(fractal.__file__).parent
  paths = [*package.glob("*.py"), package.parent / "cli.py", package.parent / "images.py"]
  offenders = [str(p) for p in paths
               if "except BaseException" in p.read_text() or "except:" in p.read_text()]
  assert not offenders


# --- input images -------------------------------------------------------------------

def _png16(path, arr: np.ndarray) -> None:
  """Writes a 16-bit PNG (grey, grey+alpha, RGB or RGBA) with zlib alone."""
  h, w = arr.shape[:2]
  channels = 1 if arr.ndim == 2 else arr.shape[2]
  colour_type = {1: 0, 2: 4, 3: 2, 4: 6}[channels]
  raw = b"".join(b"\0" + arr[y].astype(">u2").tobytes() for y in range(h))
  chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
  pathlib.Path(path).write_bytes(
      b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, colour_type, 0, 0, 0))
      + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def _ramp16() -> np.ndarray:
  return (np.arange(64 * 64).reshape(64, 64) * 16).astype(np.uint16)  # 0..65520


def test_sixteen_bit_grey_is_scaled_not_clipped(tmp_path):
  _png16(tmp_path / "g16.png", _ramp16())
  got = images.load_image(str(tmp_path / "g16.png"))
  assert got.dtype == np.uint8 and got.shape == (64, 64)
  np.testing.assert_array_equal(got, np.rint(_ramp16() / 257.0).astype(np.uint8))


def test_sixteen_bit_colour_is_scaled(tmp_path):
  a = _ramp16()
  rgb = np.stack([a, a // 2, 65535 - a], -1)
  _png16(tmp_path / "rgb16.png", rgb)
  got = images.load_image(str(tmp_path / "rgb16.png"))
  assert got.shape == (64, 64, 3)
  assert np.abs(got.astype(float) - rgb / 257.0).max() <= 1.0


def test_float_images_in_unit_range_are_scaled(tmp_path):
  f = np.linspace(0, 1, 64 * 64, dtype=np.float32).reshape(64, 64)
  Image.fromarray(f).save(tmp_path / "f.tif")
  got = images.load_image(str(tmp_path / "f.tif"))
  np.testing.assert_array_equal(got, np.rint(f * 255).astype(np.uint8))
  Image.fromarray(f * 3).save(tmp_path / "bad.tif")
  with pytest.raises(UserError, match="expected \\[0, 1\\]"):
    images.load_image(str(tmp_path / "bad.tif"))


def test_alpha_is_refused_or_composited_never_dropped(tmp_path):
  rgba = np.zeros((8, 8, 4), np.uint8)
  rgba[..., 0] = 200
  rgba[..., 3] = 255
  rgba[:4, :, 3] = 0  # top half fully transparent
  Image.fromarray(rgba, "RGBA").save(tmp_path / "t.png")
  with pytest.raises(UserError, match="--alpha-background"):
    images.load_image(str(tmp_path / "t.png"))
  white = images.load_image(str(tmp_path / "t.png"), "white")
  assert (white[:4] == 255).all() and (white[4:] == [200, 0, 0]).all()
  black = images.load_image(str(tmp_path / "t.png"), "black")
  assert (black[:4] == 0).all()
  rgba[..., 3] = 255  # opaque alpha carries nothing: read as plain colour
  Image.fromarray(rgba, "RGBA").save(tmp_path / "o.png")
  assert images.load_image(str(tmp_path / "o.png")).shape == (8, 8, 3)
  _png16(tmp_path / "la16.png", np.stack([_ramp16(), np.full((64, 64), 30000)], -1))
  with pytest.raises(UserError, match="transparent"):
    images.load_image(str(tmp_path / "la16.png"))


def test_grey_stored_as_rgb_comes_back_grey(tmp_path):
  Image.fromarray(np.full((8, 8, 3), 77, np.uint8)).save(tmp_path / "g.png")
  assert images.load_image(str(tmp_path / "g.png")).shape == (8, 8)


# --- the command line ---------------------------------------------------------------

def _one_line_error(capsys) -> str:
  err = capsys.readouterr().err.strip()
  assert err.startswith("jaxgen: error:") and "\n" not in err and "Traceback" not in err
  return err


def test_cli_transparent_input_needs_a_background(tmp_path, capsys):
  rgba = np.full((16, 16, 4), 120, np.uint8)
  rgba[..., 3] = 128
  Image.fromarray(rgba, "RGBA").save(tmp_path / "t.png")
  argv = ["fractal", "compress", str(tmp_path / "t.png"), str(tmp_path / "t.fic"), "--ratio", "4"]
  assert cli.main(argv) == 2
  assert "--alpha-background" in _one_line_error(capsys)
  assert not (tmp_path / "t.fic").exists()
  assert cli.main(argv + ["--alpha-background", "white"]) == 0


def test_cli_huge_declared_image_gives_one_line(tmp_path, capsys):
  (tmp_path / "huge.fic").write_bytes(fractal.to_bytes(_flat_code(16384, 16384)))
  assert cli.main(["fractal", "decompress", str(tmp_path / "huge.fic"),
                   str(tmp_path / "o.png")]) == 2
  assert "--max-pixels" in _one_line_error(capsys)


def test_cli_out_of_memory_is_one_line(tmp_path, capsys, monkeypatch, grey_code):
  fractal.save(str(tmp_path / "g.fic"), grey_code)

  def exhausted(*args, **kwargs):
    raise MemoryError()

  monkeypatch.setattr(fractal, "decode", exhausted)
  assert cli.main(["fractal", "decompress", str(tmp_path / "g.fic"),
                   str(tmp_path / "o.png")]) == 2
  assert "out of memory" in _one_line_error(capsys)
