"""CycleGAN's image history pool (Shrivastava et al. 2017) as a pure, fixed-size array.

The discriminator is trained on a mix of the newest fakes and fakes from earlier generators, which
damps oscillation. The pool lives in the train state, so a resumed run sees the same history.
Semantics follow the reference implementation, one image at a time: while the pool is not full,
each new image is stored and returned; once full, with probability 1/2 a random stored image is
returned and replaced by the new one, otherwise the new image is returned.
"""

import jax
import jax.numpy as jnp

Pool = dict[str, jax.Array]  # {"images": [size, h, w, c], "count": int32 scalar}


def init_pool(size: int, image_shape: tuple[int, int, int]) -> Pool:
  """An empty pool holding up to `size` images of `image_shape`."""
  return {"images": jnp.zeros((size, *image_shape), jnp.float32),
          "count": jnp.zeros((), jnp.int32)}


def query(pool: Pool, images: jax.Array, rng: jax.Array) -> tuple[Pool, jax.Array]:
  """Pushes `images` [b, h, w, c] through the pool; returns (new pool, D inputs [b, h, w, c])."""
  size = pool["images"].shape[0]
  if size == 0:
    return pool, images

  def push(carry: tuple[jax.Array, jax.Array], inputs: tuple[jax.Array, jax.Array]):
    stored, count = carry  # [size, h, w, c], []
    image, key = inputs  # [h, w, c], key
    swap_key, index_key = jax.random.split(key)
    full = count >= size
    swap = full & jax.random.bernoulli(swap_key, 0.5)
    # Where the new image goes: the next free slot, a random slot on a swap, else nowhere.
    slot = jnp.where(full, jax.random.randint(index_key, (), 0, size), count)
    old = stored[slot]  # [h, w, c]
    write = ~full | swap
    stored = stored.at[slot].set(jnp.where(write, image, old))
    out = jnp.where(swap, old, image)
    return (stored, count + (~full).astype(jnp.int32)), out

  keys = jax.random.split(rng, images.shape[0])
  # A scan keeps the one-at-a-time semantics: two fakes in a batch can't claim the same slot.
  (stored, count), out = jax.lax.scan(push, (pool["images"], pool["count"]),
                                      (images.astype(jnp.float32), keys))
  return {"images": stored, "count": count}, out.astype(images.dtype)
