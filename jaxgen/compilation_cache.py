"""JAX's persistent compilation cache, so repeated runs and tests skip recompiling."""

import os

import jax


def enable(cache_dir: str | None = None) -> str:
  """Turns on the on-disk cache in `cache_dir` (default $JAXGEN_CACHE/jax); returns the folder."""
  cache_dir = cache_dir or os.path.join(
      os.environ.get("JAXGEN_CACHE", os.path.expanduser("~/.cache/jaxgen")), "jax")
  jax.config.update("jax_compilation_cache_dir", cache_dir)
  # Cache even quick compiles: the tiny models' steps compile in well under a second each.
  jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.2)
  jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
  return cache_dir
