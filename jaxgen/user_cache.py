"""Where jaxgen keeps what outlives a checkout: measured XLA flags, compiled programs, scorers.

Standard library only: `jaxgen.xla_tuning` reads it before JAX starts.
"""

import os


def root() -> str:
  """$JAXGEN_CACHE if set, else $XDG_CACHE_HOME/jaxgen, else ~/.cache/jaxgen."""
  if os.environ.get("JAXGEN_CACHE"):
    return os.environ["JAXGEN_CACHE"]
  base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
  return os.path.join(base, "jaxgen")
