"""Size limits shared by the encoder, the `.fic` reader and the decoder.

A `.fic` file is untrusted input: a few bytes can declare a huge image, and decoding
allocates about 55 bytes per decoded sample. Both sides therefore check the same limits
before any search, allocation or loop:
  - each side at most `MAX_SIDE` pixels (the header stores u16);
  - decoded samples (padded plane areas times zoom^2, summed over planes) at most a hard
    cap, `DEFAULT_MAX_SAMPLES` unless the caller raises it (`--max-pixels` on the CLI);
  - a reader-only tie to the payload size: every top-level tile codes at least its block
    mean, whose adaptive Laplace model has a scale floor of 0.3 (>= 0.3 bits), so B bytes
    of payload describe at most ~27 tiles per byte (`TILES_PER_PAYLOAD_BYTE` with margin).
"""

from jaxgen.fractal.errors import FicFormatError
from jaxgen.fractal.types import padded_shape

MAX_SIDE = 16384
# ~8.4M decoded samples: a 2880x2880 grey or 2336x2336 colour image at scale 1 (32-pixel
# tiles), which decodes in ~2-3 s within a 1 GB process here. Raised explicitly for bigger
# trusted files.
DEFAULT_MAX_SAMPLES = 1 << 23
TILES_PER_PAYLOAD_BYTE = 32
# Small files may still code a few tiles whatever their payload (coder flush bytes).
_TILE_SLACK = 16
MAX_FILE_BYTES = 1 << 28


def plane_dims(height: int, width: int, channels: int) -> list[tuple[int, int]]:
  """Sizes of the coded planes: [luma] or [luma, chroma, chroma] (chroma halved)."""
  dims = [(height, width)]
  if channels == 3:
    dims += [(-(-height // 2), -(-width // 2))] * 2
  return dims


def decoded_samples(height: int, width: int, channels: int, max_block: int,
                    zoom: int = 1) -> int:
  """Samples the decoder allocates: padded plane areas at `zoom`, summed over planes."""
  total = 0
  for h, w in plane_dims(height, width, channels):
    ph, pw = padded_shape(h, w, max_block)
    total += ph * pw
  return total * zoom * zoom


def num_tiles(height: int, width: int, channels: int, max_block: int) -> int:
  """Top-level tiles over all planes (each codes at least one symbol)."""
  return decoded_samples(height, width, channels, max_block) // (max_block * max_block)


def check_sides(height: int, width: int) -> None:
  """Raises a one-line `ValueError` for sides outside 1..MAX_SIDE."""
  if not (1 <= height <= MAX_SIDE and 1 <= width <= MAX_SIDE):
    raise ValueError(f"image is {height}x{width}; the .fic format holds sides of 1 to "
                     f"{MAX_SIDE} pixels: crop or downscale it first")


def check_samples(height: int, width: int, channels: int, max_block: int, zoom: int,
                  max_samples: int | None, error: type[ValueError] = ValueError) -> None:
  """Raises `error` when decoding at `zoom` would exceed the `max_samples` safety cap."""
  cap = DEFAULT_MAX_SAMPLES if max_samples is None else max_samples
  need = decoded_samples(height, width, channels, max_block, zoom)
  if need > cap:
    raise error(f"{height}x{width}x{channels} at zoom {zoom} needs {need:,} decoded samples, "
                f"more than the safety cap of {cap:,} (about {need * 55 / 2**30:.1f} GiB); "
                f"pass --max-pixels {need} (max_samples={need}) if you trust this file")


def check_payload(height: int, width: int, channels: int, max_block: int,
                  payload_bytes: int) -> None:
  """Raises `FicFormatError` when the header declares more tiles than the payload can code."""
  tiles = num_tiles(height, width, channels, max_block)
  if tiles > TILES_PER_PAYLOAD_BYTE * payload_bytes + _TILE_SLACK:
    raise FicFormatError(f".fic declares {height}x{width}x{channels} pixels ({tiles} tiles), "
                         f"more than its {payload_bytes}-byte payload can describe: corrupt file")
