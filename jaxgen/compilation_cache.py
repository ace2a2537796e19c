"""JAX's persistent compilation cache, so repeated runs and tests skip recompiling."""

import os

import jax

from jaxgen import user_cache

# The cache's size bound unless $JAXGEN_COMPILE_CACHE_MAX_MB says otherwise (a negative value:
# no bound): the whole test suite fills about 100 MB, a few paper-sized programs a few hundred.
DEFAULT_MAX_MB = 2048
# How jax's bounded cache (jax._src.lru_cache.LRUCache) names an entry and its last-use time.
_ENTRY_SUFFIX, _ACCESS_SUFFIX = "-cache", "-atime"


def add_missing_access_times(cache_dir: str) -> int:
  """Gives every entry of `cache_dir` without a last-use file one (its modification time) and
  returns how many it wrote. An unbounded cache writes none, and a bounded one reads them all
  before each write: without this, a folder filled before the bound stops growing (each write
  fails on the first missing file and jax only warns)."""
  if not os.path.isdir(cache_dir):
    return 0
  names = set(os.listdir(cache_dir))
  written = 0
  for name in names:
    if not name.endswith(_ENTRY_SUFFIX):
      continue
    access = name[:-len(_ENTRY_SUFFIX)] + _ACCESS_SUFFIX
    if access not in names:
      mtime_ns = os.stat(os.path.join(cache_dir, name)).st_mtime_ns
      with open(os.path.join(cache_dir, access), "wb") as f:
        f.write(mtime_ns.to_bytes(8, "little"))
      written += 1
  return written


def enable(cache_dir: str | None = None) -> str:
  """Turns on the on-disk cache in `cache_dir` (default `user_cache.root()`/jax), bounded to
  $JAXGEN_COMPILE_CACHE_MAX_MB megabytes (least recently used programs go first); returns the
  folder."""
  cache_dir = cache_dir or os.path.join(user_cache.root(), "jax")
  max_mb = float(os.environ.get("JAXGEN_COMPILE_CACHE_MAX_MB", DEFAULT_MAX_MB))
  max_bytes = int(max_mb * 2**20) if max_mb >= 0 else -1  # jax: -1 is no bound
  if max_bytes >= 0:
    add_missing_access_times(cache_dir)
  jax.config.update("jax_compilation_cache_dir", cache_dir)
  jax.config.update("jax_compilation_cache_max_size", max_bytes)
  # Cache even quick compiles: the tiny models' steps compile in well under a second each.
  jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.2)
  jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
  return cache_dir
