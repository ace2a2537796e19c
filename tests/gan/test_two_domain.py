"""digits_two_domain prepares offline, without TensorFlow, into six labelled splits."""

import numpy as np

from jaxgen.data import two_domain


def test_builder_prepares_offline(tmp_path):
  builder = two_domain.Builder(data_dir=str(tmp_path), file_format="array_record")
  builder.download_and_prepare()
  source = builder.as_data_source()
  sizes = {split: len(source[split]) for split in
           ("trainA", "trainB", "validationA", "validationB", "testA", "testB")}
  assert sizes == {"trainA": 3500, "validationA": 500, "testA": 1000,
                   "trainB": 1257, "validationB": 185, "testB": 355}
  example = source["trainB"][0]
  assert example["image"].shape == (28, 28, 1) and example["image"].dtype == np.uint8
  assert 0 <= int(example["label"]) < 10
  test_b = np.bincount([int(source["testB"][i]["label"]) for i in range(sizes["testB"])])
  assert test_b.min() >= 30  # class-balanced


def test_upsampled_digit_sits_in_mnist_box():
  digit = np.full((8, 8), 16.0)
  image = two_domain.upsample_digit(digit)[..., 0]  # [28, 28]
  assert image[4:24, 4:24].min() == 255
  assert image[:4].max() == 0 and image[24:].max() == 0  # MNIST's 4-pixel margin
