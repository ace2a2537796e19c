"""An exclusive lock between processes, for one-time work (dataset preparation, scorer training)."""

import contextlib
import fcntl
import os
from typing import Iterator


@contextlib.contextmanager
def exclusive(path: str) -> Iterator[None]:
  """Holds an flock on `path` (created if needed) for the duration of the block."""
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  with open(path, "a") as f:
    fcntl.flock(f, fcntl.LOCK_EX)
    try:
      yield
    finally:
      fcntl.flock(f, fcntl.LOCK_UN)
