"""User-facing errors: one line that names the problem and the fix."""

import enum


class UserError(ValueError):
  """A problem with the user's input (config, data, files) that they can fix.

  Launchers catch it and print its message as a single line instead of a traceback.
  """


def enum_choice(enum_cls: type[enum.Enum], value: str, key: str) -> enum.Enum:
  """`enum_cls(value)` for a config string, or a UserError naming config `key`'s valid values."""
  try:
    return enum_cls(value)
  except ValueError:
    valid = ", ".join(str(m.value) for m in enum_cls)
    raise UserError(f"config.{key}={value!r} is not one of {valid}") from None
