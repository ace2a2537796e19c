"""Seeded mutation fuzzer for the `.fic` reader and decoder.

Every case is a mutation of a small valid file: truncations, bit flips (with the CRC left
stale or recomputed), every header field set to its extremes, garbage payloads under a
valid CRC, payloads spliced between files, and resized payloads. Each case must end in a
`FicFormatError` or a valid image, within `--seconds` and with the worker's peak memory
under `--max-rss-mb`. Cases run in a worker process that a watchdog kills and restarts on
a hang; any other outcome is a failure, printed with its seed so it can be replayed.

  python -m experiments.fuzz_fic --cases 10000        # ~10 min on 2 cores
  python -m experiments.fuzz_fic --cases 200 --replay 1234   # one case again, in-process
"""

import argparse
import collections
import dataclasses
import multiprocessing as mp
import resource
import struct
import sys
import time
import traceback
import zlib

import numpy as np

from jaxgen.fractal import fileformat

# The reader's own header layout, so the mutations follow any change to the format.
_HEAD, _QUANT = fileformat._HEAD, fileformat._QUANT
# (name, struct format, offset from the start of its struct) for every header field.
_HEAD_FIELDS = [("version", "<B", 5), ("height", "<H", 6), ("width", "<H", 8),
                ("channels", "<B", 10), ("min_block", "<B", 11), ("max_block", "<B", 12),
                ("levels", "<B", 13)]
_QUANT_FIELDS = [("s_levels", "<B", 0), ("s_max", "<f", 1), ("dc_step", "<f", 5),
                 ("payload_len", "<I", 9)]
_EXTREMES = {"<B": [0, 1, 2, 3, 127, 128, 254, 255], "<H": [0, 1, 2, 32767, 65534, 65535],
             "<I": [0, 1, 3, 2 ** 31, 2 ** 32 - 1],
             "<f": [0.0, -0.0, 1e-30, 0.5, 0.999, 1.0, 64.0, 1e30, float("inf"), float("nan"),
                    -1.0]}


@dataclasses.dataclass(frozen=True)
class Outcome:
  """What one case did: `kind` is 'format_error', 'decoded' or 'failure'."""

  kind: str
  detail: str
  seconds: float
  peak_rss_mb: float


def seeds() -> list[bytes]:
  """Small valid `.fic` files: grey, colour, tolerance mode, 2x2 blocks, odd and 1-pixel sides."""
  import skimage.data
  from jaxgen import fractal
  camera = skimage.data.camera()[200:264, 200:248]  # 64x48
  colour = skimage.data.astronaut()[60:100, 180:236]  # 40x56x3
  codes = [fractal.encode(camera, ratio=8.0, params=fractal.codec.default_params(4, 16)),
           fractal.encode(colour, ratio=6.0, params=fractal.codec.default_params(4, 16)),
           fractal.encode(camera[:33, :21], tolerance=6.0,
                          params=fractal.codec.default_params(2, 8)),
           fractal.encode(np.full((40, 70), 90, np.uint8), ratio=50.0),
           # 1x5: no domain fits at any level, so every leaf is DC-only.
           fractal.encode(camera[:1, :5], tolerance=4.0)]
  return [fractal.to_bytes(c) for c in codes]


def flat_code(height: int, width: int, max_block: int = 64):
  """A grey `FractalCode` of one DC-only leaf per top tile (what a blank page codes to):
  the fewest payload bytes for its size."""
  from jaxgen.fractal.types import CoderParams, FractalCode, PlaneCode
  params = CoderParams(32, max_block, (16,) * (max_block // 32).bit_length())
  ys, xs = np.meshgrid(np.arange(0, height, max_block), np.arange(0, width, max_block),
                       indexing="ij")
  n = ys.size
  zeros = np.zeros(n, np.int32)
  plane = PlaneCode(height, width, ys.ravel().astype(np.int32), xs.ravel().astype(np.int32),
                    np.full(n, max_block, np.int32), zeros, np.full(n, 63, np.int32), zeros)
  return FractalCode(height, width, 1, params, (plane,))


def case_bytes(files: list[bytes], seed: int) -> tuple[str, bytes]:
  """Case `seed` >= 0 is a mutation; seed -1 is the largest image the default sample cap
  lets a reader decode (a flat 2880x2880 page), the costliest file a default reader takes."""
  if seed == -1:
    from jaxgen import fractal
    return "largest_allowed", fractal.to_bytes(flat_code(2880, 2880))
  return mutate(files, seed)


def _crc(body: bytes) -> bytes:
  return body + struct.pack("<I", zlib.crc32(body))


def _fields(data: bytes) -> list[tuple[str, str, int]]:
  """Absolute (name, format, offset) of every header field of `data`."""
  levels = data[13] if len(data) > 13 else 0
  quant = _HEAD.size + levels
  return ([(n, f, o) for n, f, o in _HEAD_FIELDS]
          + [(f"step{i}", "<B", _HEAD.size + i) for i in range(levels)]
          + [(n, f, quant + o) for n, f, o in _QUANT_FIELDS])


def mutate(files: list[bytes], seed: int) -> tuple[str, bytes]:
  """Case `seed`: (mutation name, bytes). Deterministic in `seed`."""
  rng = np.random.default_rng(seed)
  data = files[int(rng.integers(len(files)))]
  body = bytearray(data[:-4])
  kind = ["truncate", "flip_stale_crc", "flip_header", "field_extreme", "fields_extreme",
          "garbage_payload", "flip_payload", "splice", "resize_payload"][int(rng.integers(9))]
  quant = _HEAD.size + body[13]
  payload_at = quant + _QUANT.size
  if kind == "truncate":
    return kind, data[:int(rng.integers(0, len(data)))]
  if kind == "flip_stale_crc":
    out = bytearray(data)
    for pos in rng.integers(0, len(out), int(rng.integers(1, 9))):
      out[pos] ^= 1 << int(rng.integers(8))
    return kind, bytes(out)
  if kind == "flip_header":
    for pos in rng.integers(5, payload_at, int(rng.integers(1, 4))):
      body[pos] ^= 1 << int(rng.integers(8))
    return kind, _crc(bytes(body))
  if kind in ("field_extreme", "fields_extreme"):
    fields = _fields(bytes(body))
    for _ in range(1 if kind == "field_extreme" else int(rng.integers(2, 5))):
      name, fmt, off = fields[int(rng.integers(len(fields)))]
      if off + struct.calcsize(fmt) > len(body):
        continue
      values = _EXTREMES[fmt]
      struct.pack_into(fmt, body, off, values[int(rng.integers(len(values)))])
    return kind, _crc(bytes(body))
  if kind == "garbage_payload":
    garbage = rng.integers(0, 256, int(rng.integers(0, 2 * (len(body) - payload_at) + 8)),
                           dtype=np.uint8).tobytes()
    out = body[:quant + 9] + struct.pack("<I", len(garbage)) + garbage
    return kind, _crc(bytes(out))
  if kind == "flip_payload":
    if len(body) > payload_at:
      for pos in rng.integers(payload_at, len(body), int(rng.integers(1, 6))):
        body[pos] ^= 1 << int(rng.integers(8))
    return kind, _crc(bytes(body))
  if kind == "splice":
    other = files[int(rng.integers(len(files)))][:-4]
    other_payload = other[_HEAD.size + other[13] + _QUANT.size:]
    out = body[:quant + 9] + struct.pack("<I", len(other_payload)) + other_payload
    return kind, _crc(bytes(out))
  # resize_payload: cut or extend the payload and keep the length field consistent.
  payload = bytes(body[payload_at:])
  n = int(rng.integers(0, 2 * len(payload) + 16))
  payload = (payload + rng.integers(0, 256, max(n - len(payload), 0), np.uint8).tobytes())[:n]
  return kind, _crc(bytes(body[:quant + 9] + struct.pack("<I", n) + payload))


def run_case(data: bytes) -> tuple[str, str]:
  """Reads and decodes `data`: ('format_error' | 'decoded' | 'failure', detail)."""
  from jaxgen import fractal
  try:
    code = fractal.from_bytes(data)
  except fractal.FicFormatError as e:
    if "\n" in str(e) or not str(e):
      return "failure", f"error message is not one line: {e!r}"
    return "format_error", str(e).split(":")[0][:60]
  except Exception:  # noqa: BLE001 - anything else is a reader bug worth reporting
    return "failure", traceback.format_exc(limit=3).strip().splitlines()[-1]
  try:
    image = fractal.decode(code)
  except ValueError as e:  # the decoder's own limits (e.g. the sample cap)
    return "format_error", f"decode refused: {str(e)[:50]}"
  except Exception:  # noqa: BLE001
    return "failure", traceback.format_exc(limit=3).strip().splitlines()[-1]
  want = (code.height, code.width) + ((3,) if code.channels == 3 else ())
  if image.shape != want or image.dtype != np.uint8:
    return "failure", f"decoded {image.shape} {image.dtype}, expected {want} uint8"
  return "decoded", f"{code.height}x{code.width}x{code.channels}"


def _peak_rss_mb() -> float:
  """This process's peak resident memory. VmHWM belongs to the process image, unlike
  ru_maxrss, which Linux carries over from the parent across the spawn's exec."""
  try:
    with open("/proc/self/status") as f:
      for line in f:
        if line.startswith("VmHWM:"):
          return int(line.split()[1]) / 1024.0
  except OSError:
    pass
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _worker(conn, files):
  """Worker loop: receives case seeds, answers (kind, detail, seconds, peak RSS MB)."""
  # Reading and decoding need no jax (the decoder is numpy), so the worker never imports
  # it and its memory is the reader's own.
  run_case(files[0])  # imports and first compilations are not any case's time
  conn.send("ready")
  while True:
    seed = conn.recv()
    if seed is None:
      return
    _, data = case_bytes(files, seed)
    t0 = time.perf_counter()
    kind, detail = run_case(data)
    conn.send((kind, detail, time.perf_counter() - t0, _peak_rss_mb()))


def fuzz(cases: int, first_seed: int = 0, seconds: float = 5.0, max_rss_mb: float = 1024.0,
         log=print, largest: bool = True) -> dict:
  """Runs `cases` mutations (and, with `largest`, the largest allowed file first) in a
  watched worker; returns counts and failures."""
  files = seeds()
  ctx = mp.get_context("spawn")
  counts = collections.Counter()
  mutation_counts = collections.Counter()
  failures = []
  worst = 0.0
  peak = 0.0
  conn = proc = None

  def start():
    parent, child = ctx.Pipe()
    p = ctx.Process(target=_worker, args=(child, files), daemon=True)
    p.start()
    if not parent.poll(300) or parent.recv() != "ready":
      raise RuntimeError("the fuzz worker did not start")
    return parent, p

  t_start = time.perf_counter()
  for i, seed in enumerate([-1] * largest + list(range(first_seed, first_seed + cases))):
    if proc is None:
      conn, proc = start()
    name, _ = case_bytes(files, seed)
    mutation_counts[name] += 1
    conn.send(seed)
    limit = seconds + 2.0  # the watchdog's slack over the bound checked below
    if not conn.poll(limit):
      proc.kill()
      proc.join()
      failures.append((seed, name, f"no answer within {limit:.0f} s (hang?)"))
      counts["failure"] += 1
      conn = proc = None
      continue
    kind, detail, dt, rss = conn.recv()
    worst, peak = max(worst, dt), max(peak, rss)
    if dt > seconds:
      kind, detail = "failure", f"took {dt:.1f} s ({detail})"
    if rss > max_rss_mb:
      kind, detail = "failure", f"worker peak RSS {rss:.0f} MB ({detail})"
    counts[kind] += 1
    if kind == "failure":
      failures.append((seed, name, detail))
    if log and (i + 1) % 500 == 0:
      log(f"{i + 1}/{cases} cases, {time.perf_counter() - t_start:.0f} s: {dict(counts)}")
  if proc is not None:
    conn.send(None)
    proc.join(10)
  return dict(counts=dict(counts), mutations=dict(mutation_counts), failures=failures,
              worst_seconds=worst, peak_rss_mb=peak, total_seconds=time.perf_counter() - t_start)


def main() -> int:
  """Command line: run the fuzzer and print a summary; exit status 1 on any failure."""
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--cases", type=int, default=10000)
  parser.add_argument("--first-seed", type=int, default=0)
  parser.add_argument("--seconds", type=float, default=5.0, help="time bound per case")
  parser.add_argument("--max-rss-mb", type=float, default=1024.0, help="worker memory bound")
  parser.add_argument("--replay", type=int, help="run one case in this process and print it")
  args = parser.parse_args()
  if args.replay is not None:
    name, data = mutate(seeds(), args.replay)
    print(name, len(data), "bytes:", run_case(data))
    return 0
  out = fuzz(args.cases, args.first_seed, args.seconds, args.max_rss_mb)
  print(f"{sum(out['counts'].values())} cases in {out['total_seconds']:.0f} s: {out['counts']}")
  print(f"mutations: {out['mutations']}")
  print(f"slowest case {out['worst_seconds']:.2f} s, worker peak RSS {out['peak_rss_mb']:.0f} MB "
        f"(bounds {args.seconds:g} s, {args.max_rss_mb:g} MB)")
  for seed, name, detail in out["failures"][:20]:
    print(f"FAILED seed {seed} ({name}): {detail}")
  return 1 if out["failures"] else 0


if __name__ == "__main__":
  sys.exit(main())
