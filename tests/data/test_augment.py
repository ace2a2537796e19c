"""On-device augmentation: random_shift translates each image within its bound, nothing else."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.data.augment import random_shift


def _shifted(image: np.ndarray, dy: int, dx: int) -> np.ndarray:
  """image [h, w, c] moved down dy and right dx, zeros where nothing moved in."""
  h, w, _ = image.shape
  out = np.zeros_like(image)
  out[max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
      image[max(-dy, 0):h - max(dy, 0), max(-dx, 0):w - max(dx, 0)]
  return out


def test_random_shift_is_a_bounded_translation_per_image():
  images = np.asarray(jax.random.uniform(jax.random.key(0), (16, 9, 7, 2)))  # [b, h, w, c]
  out = np.asarray(jax.jit(random_shift, static_argnums=2)(jax.random.key(1), images, 2))
  assert out.shape == images.shape
  found = []
  for image, got in zip(images, out):
    matches = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)
               if np.array_equal(got, _shifted(image, dy, dx))]
    assert len(matches) == 1, "each output must be exactly one translation of its input"
    found.append(matches[0])
  assert len(set(found)) > 4, "each image draws its own shift"


def test_random_shift_zero_is_identity_and_negative_is_refused():
  images = jnp.ones((2, 4, 4, 1))
  assert random_shift(jax.random.key(0), images, 0) is images
  with pytest.raises(ValueError, match="max_shift"):
    random_shift(jax.random.key(0), images, -1)
