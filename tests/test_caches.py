"""What outlives a checkout: the user cache folder and the bounded compilation cache."""

import os

import jax

from jaxgen import compilation_cache, user_cache


def test_user_cache_prefers_jaxgen_cache_then_xdg_then_home(monkeypatch, tmp_path):
  monkeypatch.setenv("JAXGEN_CACHE", str(tmp_path / "mine"))
  monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
  assert user_cache.root() == str(tmp_path / "mine")
  monkeypatch.delenv("JAXGEN_CACHE")
  assert user_cache.root() == str(tmp_path / "xdg" / "jaxgen")
  monkeypatch.delenv("XDG_CACHE_HOME")
  monkeypatch.setenv("HOME", str(tmp_path / "home"))
  assert user_cache.root() == str(tmp_path / "home" / ".cache" / "jaxgen")


def test_compilation_cache_is_bounded_and_lives_in_the_user_cache(monkeypatch, tmp_path):
  before = (jax.config.jax_compilation_cache_dir, jax.config.jax_compilation_cache_max_size)
  try:
    monkeypatch.setenv("JAXGEN_CACHE", str(tmp_path))
    monkeypatch.setenv("JAXGEN_COMPILE_CACHE_MAX_MB", "3")
    assert compilation_cache.enable() == os.path.join(str(tmp_path), "jax")
    assert jax.config.jax_compilation_cache_dir == os.path.join(str(tmp_path), "jax")
    assert jax.config.jax_compilation_cache_max_size == 3 * 2**20
    monkeypatch.setenv("JAXGEN_COMPILE_CACHE_MAX_MB", "-1")
    compilation_cache.enable()
    assert jax.config.jax_compilation_cache_max_size == -1  # no bound
    monkeypatch.delenv("JAXGEN_COMPILE_CACHE_MAX_MB")
    compilation_cache.enable()
    assert jax.config.jax_compilation_cache_max_size == compilation_cache.DEFAULT_MAX_MB * 2**20
  finally:
    jax.config.update("jax_compilation_cache_dir", before[0])
    jax.config.update("jax_compilation_cache_max_size", before[1])


def test_entries_written_without_a_bound_get_access_times(tmp_path):
  """A folder filled by an unbounded cache (no last-use files) keeps working once bounded."""
  (tmp_path / "jit_f-abc-cache").write_bytes(b"program")
  (tmp_path / "jit_g-def-cache").write_bytes(b"program")
  (tmp_path / "jit_g-def-atime").write_bytes((7).to_bytes(8, "little"))
  assert compilation_cache.add_missing_access_times(str(tmp_path)) == 1
  stamp = int.from_bytes((tmp_path / "jit_f-abc-atime").read_bytes(), "little")
  assert stamp == os.stat(tmp_path / "jit_f-abc-cache").st_mtime_ns
  assert int.from_bytes((tmp_path / "jit_g-def-atime").read_bytes(), "little") == 7
  assert compilation_cache.add_missing_access_times(str(tmp_path / "absent")) == 0


def test_jax_bounded_cache_evicts_least_recently_used_entries(tmp_path):
  """The bound does what it says with jax's own cache class (filelock installed)."""
  from jax._src.lru_cache import LRUCache
  cache = LRUCache(str(tmp_path), max_size=250)
  for key in ("a", "b", "c"):
    cache.put(key, bytes(100))
  assert cache.get("a") is None and cache.get("b") is not None and cache.get("c") is not None
