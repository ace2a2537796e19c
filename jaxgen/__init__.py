"""jaxgen: generative image models and fractal image compression in JAX/Flax (linen)."""

__version__ = "0.1.0"

from jaxgen import xla_tuning as _xla_tuning

# This machine's measured XLA CPU flags (if it was measured), before any JAX backend starts.
_xla_tuning.apply(measure_if_unknown=False)
