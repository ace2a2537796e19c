"""The `jaxgen` console script: subcommand groups, the fractal codec first.

Each group registers its subcommands on its own sub-parser; add a group by writing an
`_add_<group>(subparsers)` function and listing it in `_GROUPS`. User mistakes (missing or
corrupt files, bad arguments) print one line on stderr and exit with status 2.
"""

import argparse
import contextlib
import os
import sys
import time

import numpy as np

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
  """argparse with one-line errors (no usage dump) and exit status 2."""

  def error(self, message):
    """Turns argparse's usage dump + exit into a one-line `_CliError`."""
    raise _CliError(f"{self.prog}: {message}")


class _CliError(Exception):
  """A user mistake reported as a single line."""


def _read_image(path: str, alpha_background: str | None = None,
                max_pixels: int | None = None) -> np.ndarray:
  """Any Pillow-readable image as uint8 [h, w] (grey) or [h, w, 3] (colour); see
  `jaxgen.images.load_image` (16-bit and float scaled, transparency never dropped).
  Images over the codec's sample cap (or `max_pixels`) are refused before decoding."""
  from jaxgen import images
  from jaxgen.fractal import limits
  return images.load_image(path, alpha_background,
                           max_pixels=max_pixels or limits.DEFAULT_MAX_SAMPLES)


def _progress(desc: str):
  """A tqdm bar on a terminal, else nothing (importing tqdm alone costs ~40 ms)."""
  if not sys.stderr.isatty():
    return contextlib.nullcontext(None)
  from tqdm import tqdm
  return tqdm(desc=desc, unit="step", leave=False)


def _fractal_compress(args) -> None:
  """`jaxgen fractal compress IN OUT.fic`."""
  from jaxgen import fractal
  image = _read_image(args.input, args.alpha_background, args.max_pixels)
  from jaxgen import compilation_cache  # imports jax: only once the input is known good
  compilation_cache.enable()  # a second run loads the search kernels instead of compiling
  ratio = None if args.tolerance is not None else args.ratio
  params = None  # the encoder picks block sizes for the ratio
  if args.min_block is not None or args.max_block is not None:
    auto_min = 2 if ratio is not None and ratio < 24 else 4
    params = fractal.codec.default_params(args.min_block or auto_min, args.max_block or 32)
  t0 = time.perf_counter()
  with _progress("encoding") as bar:
    log = None if bar is None else (lambda msg: (bar.update(1), bar.set_postfix_str(msg)))
    code = fractal.encode(image, ratio=ratio, tolerance=args.tolerance, params=params, log=log,
                          max_samples=args.max_pixels)
  nbytes = fractal.save(args.output, code)
  dt = time.perf_counter() - t0
  print(f"{args.output}: {nbytes} bytes, ratio {image.size / nbytes:.2f}:1, "
        f"{8 * nbytes / (image.shape[0] * image.shape[1]):.3f} bpp, {dt:.2f} s")


def _fractal_decompress(args) -> None:
  """`jaxgen fractal decompress IN.fic OUT.png`."""
  from PIL import Image
  from jaxgen import fractal  # decoding needs no jax, so none is imported
  t0 = time.perf_counter()
  try:
    code = fractal.load(args.input, max_samples=args.max_pixels)
  except IsADirectoryError:
    raise _CliError(f"cannot read {args.input}: it is a directory") from None
  image = fractal.decode(code, scale=args.scale, iterations=args.iterations,
                         max_samples=args.max_pixels)
  try:
    Image.fromarray(image).save(args.output)
  except (OSError, ValueError, KeyError) as e:
    raise _CliError(f"cannot write {args.output}: {e}") from None
  print(f"{args.output}: {image.shape[1]}x{image.shape[0]}, {time.perf_counter() - t0:.2f} s")


def _fractal_dimension(args) -> None:
  """`jaxgen fractal dimension IN [--q Q ...] [--invert] [--threshold T] [--measure] [--plot P]`."""
  from jaxgen import fractal
  image = _read_image(args.input)
  r = fractal.generalised_dimensions(image, args.q, mode="measure" if args.measure else "set",
                                     threshold=args.threshold, invert=args.invert)
  read = (f"grey {'darkness' if r.invert else 'level'} as mass" if r.mode == "measure" else
          f"set of pixels {'<=' if r.invert else '>'} {r.threshold:g}")
  sizes = r.fit_sizes
  print(f"{args.input}: {read}, fitted over box sides {sizes[0]}..{sizes[-1]} px "
        f"({sizes.size} sizes)")
  names = {0: "box-counting dimension", 1: "information dimension", 2: "correlation dimension"}
  print(f"{'q':>6} {'D_q':>8} {'R^2':>8} {'std.err':>8}")
  for q, d, r2, se in zip(r.q, r.dimensions, r.r2, r.stderr):
    name = f"D_{q:g} {names[q]}" if q in names else ""
    print(f"{q:6g} {d:8.4f} {r2:8.4f} {se:8.4f}  {name}".rstrip())
  if args.plot:
    fractal.plot_dimensions(r, args.plot, title=args.input)
    print(f"{args.plot}: H_q and D_q plot")


def _positive(kind):
  """argparse type: a positive `kind` (int or float)."""
  def parse(text):
    value = kind(text)
    if not value > 0:
      raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value
  return parse


def _add_fractal(subparsers) -> None:
  """Registers `jaxgen fractal {compress, decompress, dimension}`."""
  from jaxgen.fractal import limits
  max_pixels_help = (f"raise the safety cap on decoded samples (default "
                     f"{limits.DEFAULT_MAX_SAMPLES:,}); only for files you trust")
  group = subparsers.add_parser("fractal", help="fractal image compression")
  sub = group.add_subparsers(dest="command", required=True, parser_class=_Parser)
  c = sub.add_parser("compress", help="image -> .fic")
  c.add_argument("input")
  c.add_argument("output")
  how = c.add_mutually_exclusive_group()
  how.add_argument("--ratio", type=_positive(float), default=16.0, help="target ratio (default 16)")
  how.add_argument("--tolerance", type=_positive(float), help="Fisher's RMS split tolerance")
  c.add_argument("--min-block", type=int, help="smallest range block (default: 2 below 24:1, else 4)")
  c.add_argument("--max-block", type=int, help="largest range block (default 32)")
  c.add_argument("--alpha-background", choices=("white", "black"),
                 help="composite a transparent image over this colour (else it is refused)")
  c.add_argument("--max-pixels", type=_positive(int), help=max_pixels_help)
  c.set_defaults(run=_fractal_compress)
  d = sub.add_parser("decompress", help=".fic -> image")
  d.add_argument("input")
  d.add_argument("output")
  d.add_argument("--scale", type=_positive(float), default=1.0, help="output zoom (fractal)")
  d.add_argument("--iterations", type=_positive(int), default=32)
  d.add_argument("--max-pixels", type=_positive(int), help=max_pixels_help)
  d.set_defaults(run=_fractal_decompress)
  m = sub.add_parser("dimension", help="generalised (Renyi) dimensions D_q of an image")
  m.add_argument("input")
  m.add_argument("--q", type=float, nargs="+", default=[0.0, 1.0, 2.0],
                 help="orders q (default 0 1 2: box-counting, information, correlation)")
  m.add_argument("--invert", action="store_true", help="dark-on-light: the set is pixels <= T")
  m.add_argument("--threshold", type=float, help="set = pixels > T (default: half of white)")
  m.add_argument("--measure", action="store_true", help="grey levels as mass instead of a set")
  m.add_argument("--plot", metavar="OUT.png", help="write the log-log fits and D_q to a PNG")
  m.set_defaults(run=_fractal_dimension)


_GROUPS = (_add_fractal,)


def build_parser() -> argparse.ArgumentParser:
  """The full `jaxgen` argument parser."""
  parser = _Parser(prog="jaxgen", description="jaxgen command line tools")
  subparsers = parser.add_subparsers(dest="group", required=True, parser_class=_Parser)
  for add in _GROUPS:
    add(subparsers)
  return parser


def main(argv: list[str] | None = None) -> int:
  """Entry point of the `jaxgen` console script; returns the exit status."""
  from jaxgen.errors import UserError
  try:
    args = build_parser().parse_args(argv)
    args.run(args)
  except (_CliError, UserError, ValueError) as e:
    print(f"jaxgen: error: {e}", file=sys.stderr)
    return EXIT_USAGE
  except FileNotFoundError as e:
    print(f"jaxgen: error: no such file: {e.filename}", file=sys.stderr)
    return EXIT_USAGE
  except MemoryError:
    print("jaxgen: error: out of memory; try a smaller --scale or image, or a machine with "
          "more memory", file=sys.stderr)
    return EXIT_USAGE
  except OSError as e:  # unwritable output, full disk, ...
    print(f"jaxgen: error: {e.strerror or e}: {e.filename or ''}", file=sys.stderr)
    return EXIT_USAGE
  return 0


def entry() -> None:
  """The console script: `main`, then an immediate exit once output is flushed.

  Every file is written and closed by then; skipping the interpreter's teardown of the
  JAX runtime saves ~0.2 s per command, which matters for a codec used in scripts.
  """
  status = main()
  sys.stdout.flush()
  sys.stderr.flush()
  os._exit(status)


if __name__ == "__main__":
  entry()
