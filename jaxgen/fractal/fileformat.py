"""The `.fic` container: header, entropy-coded transform stream, CRC32.

Layout (little endian):
  magic "JXFIC" | version u8 | height u16 | width u16 | channels u8 | min_block u8 |
  max_block u8 | levels u8 | domain step u8 x levels | s_levels u8 | s_max f32 |
  dc_step f32 | payload length u32 | payload | CRC32 of everything before it, u32.
Every declared size is checked against the file length before anything is allocated.
"""

import struct
import zlib

import numpy as np

from jaxgen.fractal import entropy, stream
from jaxgen.fractal.errors import FicFormatError
from jaxgen.fractal.quantize import Quantizer
from jaxgen.fractal.types import CoderParams, FractalCode

MAGIC = b"JXFIC"
VERSION = 1
_HEAD = struct.Struct("<5sBHHBBBB")
_QUANT = struct.Struct("<BffI")
MAX_SIDE = 16384
# Every top-level tile codes at least one block mean, and the adaptive Laplace model's
# scale floor (0.3) makes that cost >= 0.3 bits: a payload of B bytes cannot describe more
# than ~27 * max_block^2 * B pixels. Larger claims are rejected before any allocation.
PIXELS_PER_TILE_BYTE = 32
MAX_FILE_BYTES = 1 << 28


def _plane_dims(code_h: int, code_w: int, channels: int) -> list[tuple[int, int]]:
  """Sizes of the coded planes: [luma] or [luma, chroma, chroma] (chroma halved)."""
  dims = [(code_h, code_w)]
  if channels == 3:
    dims += [(-(-code_h // 2), -(-code_w // 2))] * 2
  return dims


def to_bytes(code: FractalCode) -> bytes:
  """Serialises a `FractalCode` to `.fic` bytes."""
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


def from_bytes(data: bytes) -> FractalCode:
  """Parses `.fic` bytes; raises `FicFormatError` on any truncation, corruption or misuse."""
  data = bytes(data)
  if len(data) < _HEAD.size + 4 or not data.startswith(MAGIC):
    raise FicFormatError("not a .fic file (bad magic or too short)")
  body, (crc,) = data[:-4], struct.unpack("<I", data[-4:])
  if zlib.crc32(body) != crc:
    raise FicFormatError(".fic file is corrupted or truncated (CRC32 mismatch)")
  magic, version, h, w, channels, min_b, max_b, levels = _HEAD.unpack_from(body)
  if version != VERSION:
    raise FicFormatError(f"unsupported .fic version {version} (this reader knows {VERSION})")
  off = _HEAD.size + levels
  if len(body) < off + _QUANT.size:
    raise FicFormatError(".fic header is truncated")
  steps = tuple(body[_HEAD.size:off])
  s_levels, s_max, dc_step, n_payload = _QUANT.unpack_from(body, off)
  off += _QUANT.size
  if n_payload != len(body) - off:
    raise FicFormatError(f".fic payload length {n_payload} does not match the file")
  if channels not in (1, 3) or not (1 <= h <= MAX_SIDE and 1 <= w <= MAX_SIDE):
    raise FicFormatError(f".fic declares an impossible image {h}x{w}x{channels}")
  if h * w * channels > PIXELS_PER_TILE_BYTE * max_b ** 2 * n_payload + (1 << 16):
    raise FicFormatError(f".fic declares {h}x{w}x{channels} pixels, too many for its size")
  try:
    params = CoderParams(min_b, max_b, steps, Quantizer(s_levels, float(s_max), float(dc_step)))
  except ValueError as e:
    raise FicFormatError(f".fic coder parameters are invalid: {e}") from None
  try:
    coder = entropy.SymbolCoder(np.frombuffer(body[off:] + b"\0" * (-n_payload % 4), "<u4"))
    planes = tuple(stream.code_plane(coder, params, ph, pw)
                   for ph, pw in _plane_dims(h, w, channels))
  except FicFormatError:
    raise
  except (KeyboardInterrupt, SystemExit):
    raise
  except BaseException as e:  # noqa: B036 - constriction's Rust panics are BaseExceptions
    raise FicFormatError(f".fic payload is corrupt: {type(e).__name__}") from None
  return FractalCode(h, w, channels, params, planes)


def save(path: str, code: FractalCode) -> int:
  """Writes `code` to `path`; returns the file size in bytes."""
  data = to_bytes(code)
  with open(path, "wb") as f:
    f.write(data)
  return len(data)


def load(path: str) -> FractalCode:
  """Reads a `.fic` file (see `from_bytes` for the checks)."""
  with open(path, "rb") as f:
    data = f.read(MAX_FILE_BYTES + 1)
  if len(data) > MAX_FILE_BYTES:
    raise FicFormatError(f"{path} is larger than any .fic file can be")
  return from_bytes(data)
