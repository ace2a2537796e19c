"""`jaxgen fractal ...` round trips PNGs and fails with one line and status 2."""

import numpy as np
import pytest
from PIL import Image

from jaxgen import cli


@pytest.fixture()
def files(tmp_path, grey, rgb):
  Image.fromarray(grey).save(tmp_path / "grey.png")
  Image.fromarray(rgb).save(tmp_path / "rgb.png")
  return tmp_path


@pytest.mark.parametrize("name, shape", [("grey", (128, 128)), ("rgb", (96, 80, 3))])
def test_compress_decompress_round_trip(files, capsys, name, shape):
  fic, out, big = (str(files / f"{name}.{e}") for e in ("fic", "out.png", "big.png"))
  assert cli.main(["fractal", "compress", str(files / f"{name}.png"), fic, "--ratio", "10",
                   "--max-block", "16"]) == 0
  assert "ratio" in capsys.readouterr().out
  assert cli.main(["fractal", "decompress", fic, out]) == 0
  assert np.asarray(Image.open(out)).shape == shape
  assert cli.main(["fractal", "decompress", fic, big, "--scale", "2"]) == 0
  assert np.asarray(Image.open(big)).shape[:2] == (2 * shape[0], 2 * shape[1])


def test_dimension_command(files, capsys):
  assert cli.main(["fractal", "dimension", str(files / "grey.png")]) == 0
  assert "box-counting dimension" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [
    ["fractal", "decompress", "{d}/missing.fic", "{d}/o.png"],
    ["fractal", "decompress", "{d}/grey.png", "{d}/o.png"],  # not a .fic
    ["fractal", "decompress", "{d}/bad.fic", "{d}/o.png"],  # corrupted
    ["fractal", "compress", "{d}/missing.png", "{d}/o.fic"],
    ["fractal", "compress", "{d}/grey.png"],  # missing argument
    ["fractal", "compress", "{d}/grey.png", "{d}/o.fic", "--ratio", "-3"],
    ["fractal", "compress", "{d}/grey.png", "{d}/o.fic", "--min-block", "3"],
    ["nonsense"],
])
def test_bad_input_gives_one_line_and_status_2(files, capsys, argv):
  (files / "bad.fic").write_bytes(b"JXFIC" + bytes(30))
  assert cli.main([a.format(d=files) for a in argv]) == 2
  err = capsys.readouterr().err.strip()
  assert err.startswith("jaxgen") and "\n" not in err and "Traceback" not in err
