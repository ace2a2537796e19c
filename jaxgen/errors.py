"""User-facing errors: one line that names the problem and the fix."""


class UserError(ValueError):
  """A problem with the user's input (config, data, files) that they can fix.

  Launchers catch it and print its message as a single line instead of a traceback.
  """
