"""Thickness, slant and size measured from pixels, on shapes whose answers are known, and the
buckets and adherence built on them."""

import numpy as np
import pytest

from jaxgen.data.pipeline import SplitData
from jaxgen.errors import UserError
from jaxgen.metrics import digit_properties as dp


def bar(width: int, shear: float = 0.0, height: int = 16) -> np.ndarray:
  """A vertical bar [28, 28, 1] of `width` pixels and `height` rows, its top moved right by
  `shear` columns per row going up."""
  image = np.zeros((28, 28, 1))
  for i, row in enumerate(range(6, 6 + height)):
    start = int(round(12 + shear * (height - 1 - i)))
    image[row, start:start + width] = 1.0
  return image


def test_measures_of_known_shapes():
  m = dp.measure(np.stack([bar(2), bar(5), bar(2, 0.4), bar(2, -0.4)]))
  assert m["thickness"][0] == pytest.approx(2.0, abs=0.1)
  assert m["thickness"][1] == pytest.approx(5.0, abs=0.1)
  assert abs(m["slant"][0]) < 1e-9 and m["slant"][2] == pytest.approx(0.4, abs=0.05)
  assert m["slant"][3] == pytest.approx(-0.4, abs=0.05)
  assert m["size"][0] == 16 * 2 and m["size"][1] == 16 * 5
  # uint8 and [0, 1] floats read alike; an empty image has no size.
  np.testing.assert_allclose(dp.measure((np.stack([bar(3)]) * 255).astype(np.uint8))["slant"],
                             dp.measure(np.stack([bar(3)]))["slant"])
  assert dp.measure(np.zeros((1, 28, 28, 1)))["size"][0] == 0
  with pytest.raises(UserError, match="one-channel"):
    dp.measure(np.zeros((1, 28, 28, 3)))


def test_thinning_leaves_one_pixel_wide_lines_and_keeps_loops():
  import jax.numpy as jnp
  bars = np.stack([bar(4)[..., 0], bar(3, 0.3)[..., 0]]) > 0.5
  lines = np.asarray(dp.skeleton(jnp.asarray(bars)))
  assert (lines <= bars).all() and (lines.sum(axis=2) <= 1).all()  # inside, one pixel a row
  assert lines[0].sum() >= 16 - 4  # a width's worth shorter at most
  yy, xx = np.mgrid[:28, :28]
  ring = (np.hypot(yy - 14, xx - 14) < 9) & (np.hypot(yy - 14, xx - 14) > 5)
  thin = np.asarray(dp.skeleton(jnp.asarray(ring[None])))[0]
  # A closed loop has no end to shrink from: the skeleton goes all the way round.
  assert thin[14, :14].any() and thin[14, 14:].any() and thin[:14, 14].any() and thin[14:, 14].any()
  assert 2 * np.pi * 6 < thin.sum() < 2 * np.pi * 8.5


def test_jitted_buckets_match_the_host_buckets():
  import jax.numpy as jnp
  train = SplitData.open("embedded_digits", "train").arrays()
  buckets = dp.Buckets.from_images(train["image"][:500])
  values = dp.measure(train["image"][:500])
  on_host = buckets.of(values)
  in_jit = np.asarray(dp.buckets_jax({p: jnp.asarray(v, jnp.float32) for p, v in values.items()},
                                     jnp.asarray(buckets.as_array())))
  agree = np.stack([on_host[p] for p in dp.PROPERTIES], axis=1) == in_jit
  assert agree.mean() > 0.995  # float32 against float64 at an edge, at most


def test_buckets_split_the_training_digits_in_thirds_and_adherence_reads_them():
  train = SplitData.open("embedded_digits", "train").arrays()
  buckets = dp.Buckets.from_images(train["image"])
  measured = buckets.of(dp.measure(train["image"]))
  for p in ("thickness", "slant"):  # continuous: thirds (size ties on whole pixel areas)
    shares = np.bincount(measured[p], minlength=3) / len(train["image"])
    np.testing.assert_allclose(shares, 1 / 3, atol=0.02)
  images = train["image"][:300]
  own = buckets.of(dp.measure(images))
  exact = dp.adherence(images, own, buckets)
  assert all(exact[p]["adherence"] == 1.0 and exact[p]["asked"] == 300 for p in dp.PROPERTIES)
  shifted = {p: (v + 1) % 3 for p, v in own.items()}
  assert all(dp.adherence(images, shifted, buckets)[p]["adherence"] == 0.0
             for p in dp.PROPERTIES)
  unsaid = {"slant": np.full(300, -1), "thickness": own["thickness"]}
  assert set(dp.adherence(images, unsaid, buckets)) == {"thickness"}
