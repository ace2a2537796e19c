"""Attribute editing helpers: ink mass, the logistic direction, moving codes."""

import numpy as np

from jaxgen.latent import editing


def test_direction_points_along_the_attribute():
  """Codes whose attribute depends on dimensions 0 and 2 (weights 2 and -1) give a unit
  direction close to (2, 0, -1, 0) / sqrt(5)."""
  rng = np.random.default_rng(0)
  codes = rng.normal(size=(2000, 4)).astype(np.float32)
  targets = (2 * codes[:, 0] - codes[:, 2] + 0.3 * rng.normal(size=2000)) > 0
  direction = editing.fit_direction(codes, targets)
  assert abs(np.linalg.norm(direction) - 1) < 1e-5
  np.testing.assert_allclose(direction, np.array([2, 0, -1, 0]) / np.sqrt(5), atol=0.08)


def test_edits_move_codes_and_ink_is_mean_pixel():
  codes = np.zeros((3, 2))
  moved = editing.edit_codes(codes, np.array([1.0, 0.0]), np.array([-1.0, 2.0]))
  assert moved.shape == (2, 3, 2)
  np.testing.assert_array_equal(moved[1, :, 0], 2.0)
  images = np.zeros((2, 4, 4, 1), np.float32)
  images[1, :2] = 1.0
  np.testing.assert_allclose(editing.ink_mass(images), [0.0, 0.5])
  assert editing.is_monotonic([0.1, 0.2, 0.3]) and not editing.is_monotonic([0.1, 0.1, 0.3])
