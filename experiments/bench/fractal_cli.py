"""Wall-clock time of whole `jaxgen fractal` commands, process start to exit.

Writes camera (512x512 grey) as a PNG, runs `jaxgen fractal compress --ratio 30` once to fill
the compilation cache, then times `--repeats` more compress and decompress runs each, as a
user at a shell would see them (the issue's targets: compress under 1.5 s, decompress under
1 s on a quiet 2-core machine).

  python -m experiments.bench.fractal_cli            # ~20 s
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
import skimage.data
from PIL import Image


def _jaxgen() -> list[str]:
  """The console script next to this interpreter, else `python -m jaxgen.cli`."""
  script = os.path.join(os.path.dirname(sys.executable), "jaxgen")
  return [script] if os.path.exists(script) else [sys.executable, "-m", "jaxgen.cli"]


def _wall(argv: list[str]) -> float:
  """Seconds one command takes, start to exit; raises if it fails."""
  t0 = time.perf_counter()
  subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
  return time.perf_counter() - t0


def main() -> None:
  """Times the commands and prints median and range."""
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--repeats", type=int, default=5)
  args = parser.parse_args()
  folder = tempfile.mkdtemp()
  try:
    png, fic, out = (os.path.join(folder, n) for n in ("camera.png", "camera.fic", "out.png"))
    Image.fromarray(skimage.data.camera()).save(png)
    compress = _jaxgen() + ["fractal", "compress", png, fic, "--ratio", "30"]
    decompress = _jaxgen() + ["fractal", "decompress", fic, out]
    first = _wall(compress)
    for name, argv in (("compress", compress), ("decompress", decompress)):
      times = np.array([_wall(argv) for _ in range(args.repeats)])
      print(f"jaxgen fractal {name:<10} camera 512x512 at 30:1: median {np.median(times):.2f} s, "
            f"range {times.min():.2f}-{times.max():.2f} s over {args.repeats} runs")
    print(f"(first compress, filling the compilation cache: {first:.2f} s; "
          f"{os.path.getsize(fic)} bytes)")
  finally:
    shutil.rmtree(folder)


if __name__ == "__main__":
  main()
