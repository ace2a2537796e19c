"""Errors raised by the fractal codec."""

from jaxgen.errors import UserError


class FicFormatError(UserError):
  """A `.fic` file is truncated, corrupted, foreign or declares impossible sizes.

  Subclasses `ValueError` (through `UserError`), so callers can catch either.
  """
