"""The .fic format round-trips and rejects every truncated, flipped or foreign file."""

import struct
import zlib

import numpy as np
import pytest

from jaxgen import fractal
from jaxgen.fractal import fileformat


def test_round_trip_preserves_every_transform(grey_code):
  back = fractal.from_bytes(fractal.to_bytes(grey_code))
  assert (back.height, back.width, back.channels) == (128, 128, 1)
  assert back.params == grey_code.params
  for field in ("y", "x", "size", "s_idx", "dc_idx", "cand"):
    a, b = getattr(back.planes[0], field), getattr(grey_code.planes[0], field)
    if field == "cand":  # only meaningful where s != 0
      a, b = a[back.planes[0].s_idx != 0], b[grey_code.planes[0].s_idx != 0]
    np.testing.assert_array_equal(a, b)


def test_save_and_load(tmp_path, grey_code):
  path = str(tmp_path / "x.fic")
  nbytes = fractal.save(path, grey_code)
  assert nbytes == (tmp_path / "x.fic").stat().st_size
  assert len(fractal.load(path).planes[0].size) == len(grey_code.planes[0].size)


def test_fuzz_truncated_and_bit_flipped_files_raise_cleanly(grey_code):
  data = fractal.to_bytes(grey_code)
  rng = np.random.default_rng(0)
  cases = [data[:n] for n in sorted(set(rng.integers(0, len(data), 60).tolist()) | {0, 4, 20})]
  for _ in range(150):
    flipped = bytearray(data)
    for pos in rng.integers(0, len(data), rng.integers(1, 4)):
      flipped[pos] ^= 1 << int(rng.integers(0, 8))
    cases.append(bytes(flipped))
  for case in cases:
    with pytest.raises(fractal.FicFormatError):
      fractal.from_bytes(case)


def _with_crc(body: bytes) -> bytes:
  return body + struct.pack("<I", zlib.crc32(body))


@pytest.mark.parametrize("body", [
    b"\x89PNG\r\n\x1a\n" + bytes(40),  # a foreign file
    b"JXFIC" + bytes(40),  # right magic, nonsense inside
    # A valid-looking header declaring a 16384^2 image in a few bytes: refused up front.
    fileformat._HEAD.pack(b"JXFIC", 1, 16384, 16384, 3, 4, 32, 4) + bytes([8, 4, 4, 4])
    + fileformat._QUANT.pack(8, 0.95, 4.0, 4) + bytes(4),
    # Impossible coder parameters.
    fileformat._HEAD.pack(b"JXFIC", 1, 8, 8, 1, 4, 3, 1) + bytes([8])
    + fileformat._QUANT.pack(8, 0.95, 4.0, 0),
])
def test_foreign_and_crafted_files_raise(body):
  with pytest.raises(fractal.FicFormatError):
    fractal.from_bytes(_with_crc(body))


def test_garbage_payload_with_valid_crc_never_crashes():
  # The CRC matches, so only the payload checks stand between garbage and the decoder.
  rng = np.random.default_rng(1)
  head = fileformat._HEAD.pack(b"JXFIC", 1, 64, 64, 3, 4, 16, 3) + bytes([8, 4, 4])
  for _ in range(20):
    payload = rng.integers(0, 256, 64, dtype=np.uint8).tobytes()
    data = _with_crc(head + fileformat._QUANT.pack(8, 0.95, 4.0, len(payload)) + payload)
    try:
      code = fractal.from_bytes(data)
    except fractal.FicFormatError:
      continue
    assert fractal.decode(code, iterations=4).shape == (64, 64, 3)


def test_error_is_a_value_error():
  assert issubclass(fractal.FicFormatError, ValueError)
