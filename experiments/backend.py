"""What every launcher does before JAX's backend starts."""

from absl import logging


def prepare() -> None:
  """Quiet absl logging, the measured XLA CPU setting (measured once per machine, before the
  backend starts: XLA reads its flags then) and JAX's persistent compilation cache."""
  logging.set_verbosity(logging.WARNING)
  from jaxgen import compilation_cache, xla_tuning
  xla_tuning.apply(measure_if_unknown=True)
  compilation_cache.enable()
