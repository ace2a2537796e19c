"""Generalised dimensions D_q against closed forms on exact self-similar sets and measures.

Every image side is a power of the box base, so boxes tile exactly and the fits are exact
up to rounding (the measured values match the closed forms to ~1e-12); the tolerances
leave room for a different, still correct, choice of scales.
"""

import numpy as np
import pytest
from PIL import Image

from jaxgen import cli, fractal

QS = [-2.0, -1.0, 0.0, 0.5, 1.0, 2.0, 3.0, 4.0]
LOG2_3 = np.log(3) / np.log(2)


def _sierpinski_triangle(n=512):
  i, j = np.indices((n, n))
  return ((i & j) == 0).astype(np.uint8)  # Pascal's triangle mod 2


def _sierpinski_carpet(levels=5):
  n = 3 ** levels
  i, j = np.indices((n, n))
  keep = np.ones((n, n), bool)
  for k in range(levels):
    keep &= ~(((i // 3 ** k) % 3 == 1) & ((j // 3 ** k) % 3 == 1))
  return keep.astype(np.uint8) * 255  # 0/255 on purpose


def _cantor_dust(levels=6):
  """Product of two middle-third Cantor sets on a 3**levels grid."""
  n = 3 ** levels
  i, j = np.indices((n, n))
  keep = np.ones((n, n), bool)
  for k in range(levels):
    keep &= ((i // 3 ** k) % 3 != 1) & ((j // 3 ** k) % 3 != 1)
  return keep


WEIGHTS = np.array([[0.4, 0.25], [0.2, 0.15]])


def _cascade(levels=10, weights=WEIGHTS):
  """Multiplicative cascade on a 2**levels grid: each square splits into 4 weighted quadrants."""
  m = np.ones((1, 1))
  for _ in range(levels):
    m = np.kron(m, weights)  # float64 throughout: no 8-bit quantisation of the tiny masses
  return m


def _cascade_dq(q, weights=WEIGHTS):
  """D_q = tau(q) / (q - 1), tau(q) = -log2 sum_i p_i^q; D_1 = -sum_i p_i log2 p_i."""
  p = weights.ravel()
  if q == 1:
    return float(-(p * np.log2(p)).sum())
  return float(-np.log2((p ** q).sum()) / (q - 1))


def test_triangle_all_q():
  r = fractal.generalised_dimensions(_sierpinski_triangle(), QS)
  np.testing.assert_allclose(r.dimensions, LOG2_3, atol=0.01)
  assert (r.r2 > 0.999).all()
  assert r.fit_sizes.tolist() == [1, 2, 4, 8, 16, 32, 64, 128]  # up to a quarter of 512


def test_triangle_drawn_black_on_white():
  drawn = np.where(_sierpinski_triangle(), 0, 255).astype(np.uint8)
  inverted = fractal.generalised_dimensions(drawn, QS, invert=True)
  np.testing.assert_allclose(inverted.dimensions, LOG2_3, atol=0.01)
  background = fractal.generalised_dimensions(drawn, QS)  # the white page around it: ~2
  assert (background.dimensions > 1.9).all()


@pytest.mark.parametrize("fn", [fractal.box_counting_dimension, fractal.information_dimension])
def test_wrappers_triangle_and_carpet(fn):
  assert fn(_sierpinski_triangle()) == pytest.approx(LOG2_3, abs=0.01)
  assert fn(_sierpinski_carpet(), base=3) == pytest.approx(np.log(8) / np.log(3), abs=0.01)


def test_cantor_dust_base_3():
  r = fractal.generalised_dimensions(_cantor_dust(), QS, base=3)
  np.testing.assert_allclose(r.dimensions, 2 * np.log(2) / np.log(3), atol=0.01)
  assert r.fit_sizes.tolist() == [1, 3, 9, 27, 81]


def test_cascade_measure_matches_closed_form():
  r = fractal.generalised_dimensions(_cascade(), QS, mode="measure")
  expected = np.array([_cascade_dq(q) for q in QS])
  np.testing.assert_allclose(r.dimensions, expected, atol=0.02)
  # A real multifractal: D_q falls from 2.17 at q = -2 to 1.66 at q = 4, D_0 = 2 (full support).
  assert r.dimensions[0] - r.dimensions[-1] > 0.4
  assert (np.diff(r.dimensions) < 0).all()
  assert r.dimension(0) == pytest.approx(2.0, abs=0.01)
  assert r.dimension(1) == pytest.approx(_cascade_dq(1), abs=0.02)


def test_line_and_filled_square():
  line = np.zeros((256, 256))
  line[100] = 1
  np.testing.assert_allclose(fractal.generalised_dimensions(line, QS).dimensions, 1.0, atol=0.01)
  square = np.zeros((512, 512))
  square[:256, :256] = 1
  np.testing.assert_allclose(fractal.generalised_dimensions(square, QS).dimensions, 2.0,
                             atol=0.01)
  uniform = fractal.generalised_dimensions(np.ones((256, 256)), QS, mode="measure")
  np.testing.assert_allclose(uniform.dimensions, 2.0, atol=0.01)


def test_renyi_entropy_closed_forms():
  p = np.array([0.5, 0.25, 0.25, 0.0])  # the zero box is outside the support
  h = fractal.renyi_entropy(p, [0, 1, 2, -1])
  np.testing.assert_allclose(h, [np.log(3), 1.5 * np.log(2), -np.log(0.375), np.log(10) / 2])


def test_result_holds_the_fit_data():
  r = fractal.generalised_dimensions(_sierpinski_triangle(256), [0, 1])
  assert r.entropies.shape == (2, r.sizes.size) == (2, r.log_inv_eps.size)
  assert r.sizes.tolist() == [1, 2, 4, 8, 16, 32, 64, 128, 256]  # computed beyond the fit
  np.testing.assert_allclose(r.log_inv_eps, -np.log(r.sizes))
  assert r.stderr.shape == r.r2.shape == (2,) and (r.stderr < 1e-6).all()
  r = fractal.generalised_dimensions(_sierpinski_triangle(256), [0], min_size=4, max_size=32)
  assert r.fit_sizes.tolist() == [4, 8, 16, 32]


@pytest.mark.parametrize("invert", [False, True])
def test_blank_images_are_errors(invert):
  white = np.full((64, 64), 255, np.uint8)
  with pytest.raises(ValueError, match=r"threshold 127\.5.*; try .*--invert") as e:
    fractal.generalised_dimensions(white, invert=invert)
  assert "\n" not in str(e.value)
  with pytest.raises(ValueError, match="no pixels above threshold 0.5; try --invert"):
    fractal.box_counting_dimension(np.zeros((64, 64)))
  with pytest.raises(ValueError, match="no mass"):
    fractal.generalised_dimensions(np.zeros((64, 64)), mode="measure")


def test_cli_dimension_table_and_plot(tmp_path, capsys):
  path, out = str(tmp_path / "tri.png"), str(tmp_path / "plot.png")
  Image.fromarray(np.where(_sierpinski_triangle(), 0, 255).astype(np.uint8)).save(path)
  assert cli.main(["fractal", "dimension", path, "--invert", "--q", "0", "1", "2",
                   "--plot", out]) == 0
  text = capsys.readouterr().out
  for name in ("D_0 box-counting", "D_1 information", "D_2 correlation"):
    line = next(ln for ln in text.splitlines() if name in ln)
    assert float(line.split()[1]) == pytest.approx(LOG2_3, abs=0.01)
  assert "1..128 px" in text
  with Image.open(out) as im:
    assert im.format == "PNG" and im.size[0] > 100


@pytest.mark.parametrize("make, extra", [
    (lambda p: Image.fromarray(np.full((64, 64), 255, np.uint8)).save(p), []),  # all white
    (lambda p: Image.fromarray(np.full((64, 64), 255, np.uint8)).save(p), ["--invert"]),
    (lambda p: open(p, "wb").write(b"not an image"), []),
    (lambda p: None, []),  # missing file
])
def test_cli_dimension_bad_input_one_line_status_2(tmp_path, capsys, make, extra):
  path = str(tmp_path / "in.png")
  make(path)
  assert cli.main(["fractal", "dimension", path, *extra]) == 2
  err = capsys.readouterr().err.strip()
  assert err.startswith("jaxgen") and "\n" not in err and "Traceback" not in err
