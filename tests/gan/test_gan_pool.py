"""The image history pool: fills first, then swaps about half the time, stays pure."""

import jax
import jax.numpy as jnp
import numpy as np

from jaxgen.gan import pool

SHAPE = (2, 2, 1)


def _images(start: int, n: int) -> jax.Array:
  """n images whose pixels all equal their id start, start + 1, ..."""
  return jnp.broadcast_to(jnp.arange(start, start + n, dtype=jnp.float32)[:, None, None, None],
                          (n, *SHAPE))


def test_fills_then_returns_inputs_until_full():
  query = jax.jit(pool.query)
  p = pool.init_pool(4, SHAPE)
  p, out = query(p, _images(0, 3), jax.random.key(0))
  np.testing.assert_array_equal(out, _images(0, 3))  # not full: new images pass through
  assert int(p["count"]) == 3
  p, out = query(p, _images(3, 1), jax.random.key(1))
  np.testing.assert_array_equal(out, _images(3, 1))
  np.testing.assert_array_equal(np.sort(p["images"][:, 0, 0, 0]), [0, 1, 2, 3])


def test_full_pool_swaps_about_half_and_keeps_history():
  query = jax.jit(pool.query)
  p, _ = query(pool.init_pool(4, SHAPE), _images(0, 4), jax.random.key(0))
  p, out = query(p, _images(100, 200), jax.random.key(1))
  ids = np.asarray(out[:, 0, 0, 0])
  returned_old = ids != np.arange(100, 300)
  # Each returned image is either the new one or one stored earlier (never a blend).
  assert np.all(np.isin(ids, np.arange(0, 300)))
  assert 0.35 < returned_old.mean() < 0.65
  assert int(p["count"]) == 4
  # Every swap stores the new image, so the pool now holds images of this batch.
  assert np.all(p["images"][:, 0, 0, 0] >= 100)


def test_same_rng_same_result_and_zero_size_passes_through():
  query = jax.jit(pool.query)
  p, _ = query(pool.init_pool(3, SHAPE), _images(0, 3), jax.random.key(0))
  first = query(p, _images(10, 5), jax.random.key(7))
  second = query(p, _images(10, 5), jax.random.key(7))
  jax.tree.map(np.testing.assert_array_equal, first, second)
  empty = pool.init_pool(0, SHAPE)
  same, out = pool.query(empty, _images(0, 2), jax.random.key(0))
  np.testing.assert_array_equal(out, _images(0, 2))
  assert same["images"].shape == (0, *SHAPE)
