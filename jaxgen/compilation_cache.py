"""JAX's persistent compilation cache, so repeated runs and tests skip recompiling."""

import os

import jax

from jaxgen import user_cache

# The cache's size bound unless $JAXGEN_COMPILE_CACHE_MAX_MB says otherwise: the whole test suite
# fills about 100 MB, a few paper-sized programs a few hundred more.
DEFAULT_MAX_MB = 2048


def enable(cache_dir: str | None = None) -> str:
  """Turns on the on-disk cache in `cache_dir` (default `user_cache.root()`/jax), bounded to
  $JAXGEN_COMPILE_CACHE_MAX_MB megabytes (least recently used programs go first); returns the
  folder."""
  cache_dir = cache_dir or os.path.join(user_cache.root(), "jax")
  max_mb = float(os.environ.get("JAXGEN_COMPILE_CACHE_MAX_MB", DEFAULT_MAX_MB))
  jax.config.update("jax_compilation_cache_dir", cache_dir)
  jax.config.update("jax_compilation_cache_max_size", int(max_mb * 2**20))
  # Cache even quick compiles: the tiny models' steps compile in well under a second each.
  jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.2)
  jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
  return cache_dir
