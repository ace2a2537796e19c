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


def test_warps_against_their_closed_forms():
  """The identity grid, a quarter turn (np.rot90) and an integer translation, exactly; the
  random affine with every range at zero is the identity."""
  from jaxgen.data.augment import affine_warp, random_affine, warp
  images = jnp.asarray(np.random.default_rng(0).uniform(size=(2, 9, 9, 2)), jnp.float32)
  grid = jnp.stack(jnp.meshgrid(jnp.arange(9), jnp.arange(9), indexing="ij"), 0)
  np.testing.assert_allclose(warp(images, jnp.stack([grid, grid])), images, atol=1e-6)
  eye, no_shift = jnp.broadcast_to(jnp.eye(2), (2, 2, 2)), jnp.zeros((2, 2))
  quarter = jnp.broadcast_to(jnp.array([[0.0, 1.0], [-1.0, 0.0]]), (2, 2, 2))  # A^-1 of +90 deg
  np.testing.assert_allclose(affine_warp(images, quarter, no_shift),
                             np.rot90(np.asarray(images), 1, axes=(1, 2)), atol=1e-5)
  moved = affine_warp(images, eye, jnp.array([[1.0, 2.0], [-2.0, 0.0]]))
  for i, (dy, dx) in enumerate([(1, 2), (-2, 0)]):
    np.testing.assert_allclose(moved[i], _shifted(np.asarray(images[i]), dy, dx), atol=1e-6)
  still = random_affine(jax.random.key(0), images, max_degrees=0.0, scale=(1.0, 1.0),
                        max_shear_degrees=0.0, max_shift=0.0)
  np.testing.assert_allclose(still, images, atol=1e-5)
  turned = random_affine(jax.random.key(0), images)
  assert not np.allclose(turned, images) and turned.shape == images.shape


def test_elastic_field_has_its_rms_and_is_smooth():
  from jaxgen.data.augment import elastic_field, random_elastic
  field = np.asarray(elastic_field(jax.random.key(0), (64, 40, 40), alpha=1.5, sigma=3.0))
  inner = field[..., 10:-10, 10:-10]  # away from the zero-padded border
  assert abs(np.sqrt(np.mean(inner ** 2)) - 1.5) < 0.1
  # Neighbouring pixels move together (a smooth warp); white noise would not correlate at all.
  corr = np.corrcoef(inner[..., :-1].ravel(), inner[..., 1:].ravel())[0, 1]
  assert corr > 0.9
  images = jnp.asarray(np.random.default_rng(1).uniform(size=(2, 28, 28, 1)), jnp.float32)
  np.testing.assert_allclose(random_elastic(jax.random.key(1), images, alpha=0.0), images,
                             atol=1e-6)


def test_mixup_and_cutmix_mix_images_and_targets_by_the_same_share():
  from jaxgen.data.augment import mix
  rng = np.random.default_rng(2)
  images = jnp.asarray(rng.uniform(size=(4, 12, 12, 1)), jnp.float32)
  targets = jax.nn.one_hot(jnp.array([0, 1, 2, 3]), 5)  # each image's partner has another label
  unchanged = mix(jax.random.key(0), images, targets, 0.0, 0.0)
  assert unchanged[0] is images and unchanged[1] is targets
  for key in range(6):
    for mixup_alpha, cutmix_alpha in ((0.8, 0.0), (0.0, 1.0), (0.8, 1.0)):
      out, soft = mix(jax.random.key(key), images, targets, mixup_alpha, cutmix_alpha)
      np.testing.assert_allclose(soft.sum(-1), 1.0, rtol=1e-6)
      lam = float(soft[0, 0])  # image 0's own label; its partner (image 3) has label 3
      np.testing.assert_allclose(soft[0, 3], 1 - lam, atol=1e-6)
      blended = lam * images[0] + (1 - lam) * images[3]
      pasted = np.isclose(out[0], images[3], atol=1e-6) & ~np.isclose(out[0], images[0])
      if np.allclose(out[0], blended, atol=1e-5):  # mixup
        assert mixup_alpha > 0
      else:  # cutmix: the pasted share is exactly 1 - lambda
        assert cutmix_alpha > 0
        assert np.mean(pasted) == pytest.approx(1 - lam, abs=1e-6)
