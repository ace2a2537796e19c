"""jaxgen: generative image models and fractal image compression in JAX/Flax (linen)."""

__version__ = "0.1.0"
