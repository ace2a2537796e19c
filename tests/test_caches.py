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
    monkeypatch.delenv("JAXGEN_COMPILE_CACHE_MAX_MB")
    compilation_cache.enable()
    assert jax.config.jax_compilation_cache_max_size == compilation_cache.DEFAULT_MAX_MB * 2**20
  finally:
    jax.config.update("jax_compilation_cache_dir", before[0])
    jax.config.update("jax_compilation_cache_max_size", before[1])
