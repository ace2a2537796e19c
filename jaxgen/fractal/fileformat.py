"""The `.fic` container: header, entropy-coded transform stream, CRC32.

Layout (little endian):
  magic "JXFIC" | version u8 | height u16 | width u16 | channels u8 | min_block u8 |
  max_block u8 | levels u8 | domain step u8 x levels | s_levels u8 | s_max f32 |
  dc_step f32 | payload length u32 | payload | CRC32 of everything before it, u32.
Every header field is validated, and declared sizes are checked against the file length
and the safety caps of `limits`, before anything is allocated.
"""

import struct
import zlib

import numpy as np

from jaxgen.fractal import entropy, limits, stream
from jaxgen.fractal.errors import FicFormatError
from jaxgen.fractal.quantize import Quantizer
from jaxgen.fractal.types import CoderParams, FractalCode

MAGIC = b"JXFIC"
VERSION = 1
_HEAD = struct.Struct("<5sBHHBBBB")
_QUANT = struct.Struct("<BffI")


def to_bytes(code: FractalCode) -> bytes:
  """Serialises a `FractalCode` to `.fic` bytes."""
  limits.check_sides(code.height, code.width)
  p = code.params
  coder = entropy.SymbolCoder()
  for plane in code.planes:
    stream.code_plane(coder, p, plane.height, plane.width, plane)
  payload = coder.finish()
  body = (_HEAD.pack(MAGIC, VERSION, code.height, code.width, code.channels, p.min_block,
                     p.max_block, len(p.domain_steps))
          + bytes(p.domain_steps)
          + _QUANT.pack(p.quant.s_levels, p.quant.s_max, p.quant.dc_step, len(payload))
          + payload)
  return body + struct.pack("<I", zlib.crc32(body))


def _header(body: bytes, max_samples: int | None) -> tuple[int, int, int, CoderParams, int]:
  """Validates every header field, cheapest first, before anything is allocated:
  (height, width, channels, params, payload offset)."""
  magic, version, h, w, channels, min_b, max_b, levels = _HEAD.unpack_from(body)
  if version != VERSION:
    raise FicFormatError(f"unsupported .fic version {version} (this reader knows {VERSION})")
  if channels not in (1, 3) or not (1 <= h <= limits.MAX_SIDE and 1 <= w <= limits.MAX_SIDE):
    raise FicFormatError(f".fic declares an impossible image {h}x{w}x{channels}")
  off = _HEAD.size + levels
  if len(body) < off + _QUANT.size:
    raise FicFormatError(".fic header is truncated")
  steps = tuple(body[_HEAD.size:off])
  s_levels, s_max, dc_step, n_payload = _QUANT.unpack_from(body, off)
  off += _QUANT.size
  if n_payload != len(body) - off:
    raise FicFormatError(f".fic payload length {n_payload} does not match the file")
  try:
    params = CoderParams(min_b, max_b, steps, Quantizer(s_levels, float(s_max), float(dc_step)))
  except ValueError as e:
    raise FicFormatError(f".fic coder parameters are invalid: {e}") from None
  limits.check_payload(h, w, channels, max_b, n_payload)
  limits.check_samples(h, w, channels, max_b, 1, max_samples, FicFormatError)
  return h, w, channels, params, off


def from_bytes(data: bytes, max_samples: int | None = None) -> FractalCode:
  """Parses `.fic` bytes; raises `FicFormatError` on any truncation, corruption or misuse.

  Args:
    max_samples: safety cap on the decoded samples the file may declare at scale 1
      (default `limits.DEFAULT_MAX_SAMPLES`); raise it only for trusted files.
  """
  data = bytes(data)
  if len(data) < _HEAD.size + 4 or not data.startswith(MAGIC):
    raise FicFormatError("not a .fic file (bad magic or too short)")
  body, (crc,) = data[:-4], struct.unpack("<I", data[-4:])
  if zlib.crc32(body) != crc:
    raise FicFormatError(".fic file is corrupted or truncated (CRC32 mismatch)")
  h, w, channels, params, off = _header(body, max_samples)
  n_payload = len(body) - off
  try:
    coder = entropy.SymbolCoder(np.frombuffer(body[off:] + b"\0" * (-n_payload % 4), "<u4"))
    planes = tuple(stream.code_plane(coder, params, ph, pw)
                   for ph, pw in limits.plane_dims(h, w, channels))
  except AssertionError:  # constriction's range decoder on data no model could produce
    raise FicFormatError(".fic payload is corrupt: invalid range-coder data") from None
  return FractalCode(h, w, channels, params, planes)


def save(path: str, code: FractalCode) -> int:
  """Writes `code` to `path`; returns the file size in bytes."""
  data = to_bytes(code)
  with open(path, "wb") as f:
    f.write(data)
  return len(data)


def load(path: str, max_samples: int | None = None) -> FractalCode:
  """Reads a `.fic` file (see `from_bytes` for the checks and `max_samples`)."""
  with open(path, "rb") as f:
    data = f.read(limits.MAX_FILE_BYTES + 1)
  if len(data) > limits.MAX_FILE_BYTES:
    raise FicFormatError(f"{path} is larger than any .fic file can be")
  return from_bytes(data, max_samples)
