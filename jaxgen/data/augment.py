"""On-device data augmentation: pure functions of an rng and a batch, for use inside a train step."""

import jax
import jax.numpy as jnp


def random_shift(rng: jax.Array, images: jax.Array, max_shift: int,
                 fill: float = 0.0) -> jax.Array:
  """Translates each image by its own random (dy, dx) in [-max_shift, max_shift], filling with `fill`.

  images [b, h, w, c] -> [b, h, w, c]. The digits' background is 0 in [0, 1] pixel scale, so the
  default fill adds no edge. max_shift=0 returns the batch unchanged.
  """
  if max_shift < 0:
    raise ValueError(f"max_shift must be >= 0, got {max_shift}")
  if max_shift == 0:
    return images
  b, h, w, c = images.shape
  s = max_shift
  padded = jnp.pad(images, ((0, 0), (s, s), (s, s), (0, 0)), constant_values=fill)  # [b, h+2s, w+2s, c]
  offsets = jax.random.randint(rng, (b, 2), 0, 2 * s + 1)  # [b, 2]: top-left corner of the crop

  def crop(image, offset):
    return jax.lax.dynamic_slice(image, (offset[0], offset[1], 0), (h, w, c))

  return jax.vmap(crop)(padded, offsets)
