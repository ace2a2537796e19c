"""The `jaxgen` console script: subcommand groups, the fractal codec first.

Each group registers its subcommands on its own sub-parser; add a group by writing an
`_add_<group>(subparsers)` function and listing it in `_GROUPS`. User mistakes (missing or
corrupt files, bad arguments) print one line on stderr and exit with status 2.
"""

import argparse
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


def _read_image(path: str) -> np.ndarray:
  """Any Pillow-readable image as uint8 [h, w] (grey) or [h, w, 3] (colour)."""
  from PIL import Image, UnidentifiedImageError
  try:
    with Image.open(path) as im:
      grey = im.mode in ("1", "L", "I", "I;16", "F", "LA")
      return np.asarray(im.convert("L" if grey else "RGB"))
  except (UnidentifiedImageError, OSError) as e:
    raise _CliError(f"cannot read image {path}: {e}") from None


def _fractal_compress(args) -> None:
  """`jaxgen fractal compress IN OUT.fic`."""
  from tqdm import tqdm
  from jaxgen import fractal
  image = _read_image(args.input)
  ratio = None if args.tolerance is not None else args.ratio
  params = None  # the encoder picks block sizes for the ratio
  if args.min_block is not None or args.max_block is not None:
    auto_min = 2 if ratio is not None and ratio < 24 else 4
    params = fractal.codec.default_params(args.min_block or auto_min, args.max_block or 32)
  t0 = time.perf_counter()
  with tqdm(desc="encoding", unit="step", leave=False, disable=None) as bar:
    code = fractal.encode(image, ratio=ratio, tolerance=args.tolerance, params=params,
                          log=lambda msg: (bar.update(1), bar.set_postfix_str(msg)))
  nbytes = fractal.save(args.output, code)
  dt = time.perf_counter() - t0
  print(f"{args.output}: {nbytes} bytes, ratio {image.size / nbytes:.2f}:1, "
        f"{8 * nbytes / (image.shape[0] * image.shape[1]):.3f} bpp, {dt:.2f} s")


def _fractal_decompress(args) -> None:
  """`jaxgen fractal decompress IN.fic OUT.png`."""
  from PIL import Image
  from jaxgen import fractal
  t0 = time.perf_counter()
  try:
    code = fractal.load(args.input)
  except OSError as e:
    raise _CliError(f"cannot read {args.input}: {e.strerror or e}") from None
  image = fractal.decode(code, scale=args.scale, iterations=args.iterations)
  try:
    Image.fromarray(image).save(args.output)
  except (OSError, ValueError, KeyError) as e:
    raise _CliError(f"cannot write {args.output}: {e}") from None
  print(f"{args.output}: {image.shape[1]}x{image.shape[0]}, {time.perf_counter() - t0:.2f} s")


def _fractal_dimension(args) -> None:
  """`jaxgen fractal dimension IN.png`."""
  from jaxgen import fractal
  image = _read_image(args.input)
  print(f"box-counting dimension {fractal.box_counting_dimension(image):.4f}, "
        f"information dimension {fractal.information_dimension(image):.4f}")


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
  c.set_defaults(run=_fractal_compress)
  d = sub.add_parser("decompress", help=".fic -> image")
  d.add_argument("input")
  d.add_argument("output")
  d.add_argument("--scale", type=_positive(float), default=1.0, help="output zoom (fractal)")
  d.add_argument("--iterations", type=_positive(int), default=32)
  d.set_defaults(run=_fractal_decompress)
  m = sub.add_parser("dimension", help="box-counting and information dimension")
  m.add_argument("input")
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
  except OSError as e:  # unwritable output, full disk, ...
    print(f"jaxgen: error: {e.strerror or e}: {e.filename or ''}", file=sys.stderr)
    return EXIT_USAGE
  return 0


if __name__ == "__main__":
  sys.exit(main())
