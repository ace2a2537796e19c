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
  assert 1.8 < m["thickness"][0] < 2.6 and 4.0 < m["thickness"][1] < 7.0
  assert abs(m["slant"][0]) < 1e-9 and m["slant"][2] == pytest.approx(0.4, abs=0.05)
  assert m["slant"][3] == pytest.approx(-0.4, abs=0.05)
  assert m["size"][0] == 16 * 2 and m["size"][1] == 16 * 5
  # uint8 and [0, 1] floats read alike; an empty image has no size.
  np.testing.assert_allclose(dp.measure((np.stack([bar(3)]) * 255).astype(np.uint8))["slant"],
                             dp.measure(np.stack([bar(3)]))["slant"])
  assert dp.measure(np.zeros((1, 28, 28, 1)))["size"][0] == 0
  with pytest.raises(UserError, match="one-channel"):
    dp.measure(np.zeros((1, 28, 28, 3)))


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
